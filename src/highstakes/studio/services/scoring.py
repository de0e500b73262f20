"""The classifier inside the server: micro-batched scoring, menus and saliency.

Concurrent score requests wait a few milliseconds on a queue and are scored together in
one forward pass, which is what keeps p95 latency flat when thirty attackers type at
once.  Menus and saliency run on their own worker thread so a menu never sits in the
score queue; on that thread a click's menu goes before the menus computed ahead of
clicks (`prefetch_menus`: the most salient words of the text an attacker is looking at),
and a prefetch for an attacker's new text drops what was left of their old one.
`swap` replaces the classifier between batches: a batch already running finishes on the
old version, the next one uses the new, and no request is dropped.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import queue
import threading
from collections.abc import Callable, Hashable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from highstakes.attacks.text import Field
from highstakes.data.records import Snippet

log = logging.getLogger(__name__)

# Proposals the menu takes from the language model: the most likely words from the left
# context, many of them words of another part of speech; the grammar judge drops those
# at once and reads the rest with the right context.
MENU_LM_PROPOSALS = 32
# Texts whose LM pass is kept (~20 MB each, mostly next-word log-probabilities): a few
# attackers' current texts, so their prefetched and clicked menus share one pass.
MENU_LM_TEXTS = 8

ScoreFn = Callable[[Sequence[Snippet]], Sequence[float]]


@dataclass
class Tools:
    """One classifier version with everything the studio asks of it."""

    version_id: int | None
    name: str
    threshold: float
    score: ScoreFn
    menu: Any | None = None  # highstakes.attacks.menu.SubstitutionMenu
    classifier: Any | None = None  # for saliency


def build_menu(clf: Any, lm: Any | None = None) -> Any:
    """The studio's menu for classifier `clf`: WordNet synonyms when WordNet is installed,
    the language model's proposals when `lm` is given, embedding neighbours, and the injury
    lexicon's other phrases for the injury a clicked word belongs to; with `lm`, the edits
    that keep the sentence grammatical first (`Grammaticality`)."""
    from highstakes.attacks.candidates.embedding import EmbeddingNeighbours
    from highstakes.attacks.candidates.wordnet import WordNetSynonyms
    from highstakes.attacks.constraints.grammar import Grammaticality
    from highstakes.attacks.lexicon import default_lexicon
    from highstakes.attacks.menu import SubstitutionMenu
    from highstakes.attacks.preserving import LexiconEdits

    sources: list[Any] = [EmbeddingNeighbours(clf)]
    grammar = Grammaticality(None)
    if lm is not None:
        from highstakes.attacks.candidates.lm import LanguageModelProposals

        # no re-ranking forward pass of its own (right_window=0): the grammar judge reads
        # every proposal with the next tokens anyway, in the menu's one LM batch
        proposals = LanguageModelProposals(
            lm, pool=MENU_LM_PROPOSALS, right_window=0, cache_size=MENU_LM_TEXTS
        )
        sources.insert(0, proposals)
        grammar = Grammaticality(proposals)
    if WordNetSynonyms.available():
        sources.insert(0, WordNetSynonyms())
    edit_sources = [LexiconEdits(default_lexicon(), k=8)]
    return SubstitutionMenu(
        clf,
        sources,
        k_by_source={"lm": MENU_LM_PROPOSALS},
        edit_sources=edit_sources,
        grammar=grammar,
    )


def load_tools(
    path: str, version_id: int | None, name: str, lm: Any | None = None, fast: bool = True
) -> Tools:
    """Load a classifier folder with its menu (`build_menu`)."""
    from highstakes.models.classifier import Classifier

    clf = Classifier.from_pretrained(path)

    def score(snippets: Sequence[Snippet]) -> Sequence[float]:
        return [float(p) for p in clf.score(snippets, fast=fast)]

    menu = build_menu(clf, lm)
    # one menu at load time: the first click would otherwise pay for the lazy loads
    # (WordNet, SemCor counts, lemminflect, the LM's first passes), about a second
    menu.build(WARM_UP, "completion", 3)
    return Tools(version_id, name, clf.threshold, score, menu, clf)


WARM_UP = Snippet("Tom ran to the barn. It was late. The dog barked.", "He slipped on the ice.")


LIVE, PREFETCH = 0, 1  # tool-thread priorities: lower runs first


class _ToolWorker:
    """One thread that runs tool jobs (menus, saliency) lowest priority number first, in
    arrival order within a priority.  One thread, because two would only share the same
    CPU cores and both answer later.

    Its torch ops run on `threads` cores (torch's setting is per thread).  One by default:
    beside the score thread, or a training job, two OpenMP threads wait at every op's
    barrier for a core the other work holds; on 2 busy cores a menu took 9.9 s median with
    two threads and 0.5 s with one (the numbers in benchmarks/attack.py's notes)."""

    def __init__(self, threads: int = 1) -> None:
        self.threads = threads
        self._jobs: queue.PriorityQueue[tuple[int, int, Any]] = queue.PriorityQueue()
        self._order = itertools.count()
        self._thread = threading.Thread(target=self._run, name="menu", daemon=True)
        self._thread.start()

    def submit(self, fn: Callable[[], Any], priority: int) -> Future[Any]:
        future: Future[Any] = Future()
        self._jobs.put((priority, next(self._order), (fn, future)))
        return future

    def pending(self) -> int:
        return self._jobs.qsize()

    def _run(self) -> None:
        import torch

        torch.set_num_threads(self.threads)
        while True:
            _, _, job = self._jobs.get()
            if job is None:
                return
            fn, future = job
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(fn())
            except BaseException as exc:  # the caller sees it; the thread goes on
                future.set_exception(exc)

    def shutdown(self) -> None:
        self._jobs.put((-1, -1, None))  # before anything still queued
        self._thread.join(timeout=30)


@dataclass
class _Request:
    snippet: Snippet
    future: asyncio.Future[tuple[float, Tools]]


class ScoringService:
    def __init__(
        self,
        tools: Tools,
        max_batch: int = 32,
        max_wait_ms: float = 4.0,
        prefetch_words: int = 10,
        tool_threads: int = 1,
    ) -> None:
        self.tools = tools
        self.max_batch = max_batch
        self.max_wait = max_wait_ms / 1000
        self.prefetch_words = prefetch_words  # menus computed ahead per text, most salient
        self._queue: asyncio.Queue[_Request] | None = None
        self._worker: asyncio.Task[None] | None = None
        self._score_pool = ThreadPoolExecutor(1, thread_name_prefix="score")
        self._tool_worker = _ToolWorker(tool_threads)
        self._prefetch_round: dict[Hashable, int] = {}  # per attacker: their latest text
        self.batches = 0

    async def start(self) -> None:
        self._queue = asyncio.Queue()
        self._worker = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._worker:
            self._worker.cancel()
            await asyncio.gather(self._worker, return_exceptions=True)
        self._score_pool.shutdown(wait=True)
        self._tool_worker.shutdown()

    def swap(self, tools: Tools) -> None:
        """Use `tools` from the next batch on (attribute assignment is atomic)."""
        log.info("classifier swapped: %s -> %s", self.tools.name, tools.name)
        self.tools = tools

    async def score(self, snippet: Snippet) -> tuple[float, Tools]:
        """The snippet's score and the version that gave it."""
        if self._queue is None:
            raise RuntimeError("ScoringService.start() was not called")
        future: asyncio.Future[tuple[float, Tools]] = asyncio.get_running_loop().create_future()
        await self._queue.put(_Request(snippet, future))
        return await future

    async def _run(self) -> None:
        assert self._queue is not None
        loop = asyncio.get_running_loop()
        while True:
            batch = [await self._queue.get()]
            deadline = loop.time() + self.max_wait
            while len(batch) < self.max_batch:
                timeout = deadline - loop.time()
                try:
                    batch.append(await asyncio.wait_for(self._queue.get(), max(timeout, 0)))
                except TimeoutError:
                    break
            tools = self.tools  # one version for the whole batch
            try:
                scores = await loop.run_in_executor(
                    self._score_pool, tools.score, [r.snippet for r in batch]
                )
            except Exception as exc:  # a failed batch fails its requests, not the worker
                log.exception("scoring failed")
                for r in batch:
                    if not r.future.done():
                        r.future.set_exception(exc)
                continue
            self.batches += 1
            for r, s in zip(batch, scores, strict=True):
                if not r.future.done():
                    r.future.set_result((float(s), tools))

    async def run_tool(self, fn: Callable[[Tools], Any], priority: int = LIVE) -> tuple[Any, Tools]:
        """Run `fn(tools)` (a menu, saliency) on the tool thread."""
        tools = self.tools
        result = await asyncio.wrap_future(self._tool_worker.submit(lambda: fn(tools), priority))
        return result, tools

    async def menu(
        self, snippet: Snippet, field: Field, index: int, kind: str = "replace"
    ) -> tuple[Any, Tools]:
        """A click's menu: a kept one at once, without queueing behind a running
        prefetch; otherwise built on the tool thread before any prefetch."""
        tools, menu = self.tools, self.tools.menu
        if menu is None:
            raise LookupError("menu: this classifier version has none")
        items = menu.cached(snippet, field, index, kind)
        if items is None:
            future = self._tool_worker.submit(lambda: menu.menu(snippet, field, index, kind), LIVE)
            items = await asyncio.wrap_future(future)
        return items, tools

    def prefetch_menus(
        self, owner: Hashable, snippet: Snippet, positions: Sequence[tuple[Field, int]]
    ) -> None:
        """Compute the replacement menus at `positions` (most salient first) behind every
        live request; `owner`'s earlier prefetches that have not started are dropped, as
        their text is no longer on the attacker's screen."""
        tools, menu = self.tools, self.tools.menu
        if menu is None:
            return
        this_round = self._prefetch_round.get(owner, 0) + 1
        self._prefetch_round[owner] = this_round

        def job(field: Field, index: int) -> Callable[[], None]:
            def run() -> None:
                if self._prefetch_round.get(owner) != this_round or tools is not self.tools:
                    return  # a newer text, or a newer classifier: nobody will click this
                try:
                    menu.menu(snippet, field, index, "replace")
                except Exception:  # a prefetch only saves time; a click reports errors
                    log.exception("menu prefetch failed")

            return run

        for field, index in positions[: self.prefetch_words]:
            self._tool_worker.submit(job(field, index), PREFETCH)
