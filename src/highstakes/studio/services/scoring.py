"""The classifier inside the server: micro-batched scoring, menus and saliency.

Concurrent score requests wait a few milliseconds on a queue and are scored together in
one forward pass, which is what keeps p95 latency flat when thirty attackers type at
once.  Menus and saliency run on their own thread (`tool_thread.ToolWorker`) so a menu
never sits in the score queue.  On that thread the menus of the text an attacker is
looking at are computed ahead of their clicks (`prefetch_menus`): the most salient words
first, then, while no click waits, every other word in order of saliency; a click goes
before all of them and waits for at most one step of one menu in flight; a click on a
word whose menu is being computed ahead takes that computation over; and a prefetch for
an attacker's new text drops what was left of their old one.
`swap` replaces the classifier between batches: a batch already running finishes on the
old version, the next one uses the new, and no request is dropped.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Hashable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from highstakes.attacks.text import Field
from highstakes.data.records import Snippet
from highstakes.studio.services.tool_thread import BACKGROUND, LIVE, PREFETCH, ToolJob, ToolWorker

__all__ = ["BACKGROUND", "LIVE", "PREFETCH", "ScoringService", "Tools", "build_menu"]

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
        background_words: int | None = None,
    ) -> None:
        self.tools = tools
        self.max_batch = max_batch
        self.max_wait = max_wait_ms / 1000
        self.prefetch_words = prefetch_words  # menus computed ahead first: most salient
        self.background_words = background_words  # then the rest up to this many (None: all)
        self._queue: asyncio.Queue[_Request] | None = None
        self._worker: asyncio.Task[None] | None = None
        self._score_pool = ThreadPoolExecutor(1, thread_name_prefix="score")
        self._tool_worker = ToolWorker(tool_threads)
        self._viewing: dict[Hashable, tuple[Tools, Snippet]] = {}  # per attacker: latest text
        self._menu_jobs: dict[tuple[int, Any], ToolJob] = {}  # menus queued or being built
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
        job = self._tool_worker.submit(lambda: fn(tools), priority)
        return await asyncio.wrap_future(job.future), tools

    async def menu(
        self, snippet: Snippet, field: Field, index: int, kind: str = "replace"
    ) -> tuple[Any, Tools]:
        """A click's menu: a kept one at once; one being computed ahead, taken over at the
        click's priority; otherwise built on the tool thread before any prefetch."""
        tools, menu = self.tools, self.tools.menu
        if menu is None:
            raise LookupError("menu: this classifier version has none")
        items = menu.cached(snippet, field, index, kind)
        if items is None:
            job = self._menu_job(menu, snippet, field, index, kind, LIVE, None)
            items = await asyncio.wrap_future(job.future)
        return items, tools

    def click_waits_ms(self) -> list[float]:
        """For each click that was not served from the cache, how long it waited for the
        tool thread (a step of a menu in flight, other clicks), ms."""
        return [1000 * w for w in self._tool_worker.live_waits]

    def prefetch_menus(
        self, owner: Hashable, snippet: Snippet, positions: Sequence[tuple[Field, int]]
    ) -> None:
        """Compute the replacement menus at `positions` (most salient first) while no
        click waits: the first `prefetch_words` before any other attacker's remaining
        words, the rest after.  `owner`'s earlier prefetches are dropped, even halfway, as
        their text is no longer on the attacker's screen (unless it is this one again)."""
        tools, menu = self.tools, self.tools.menu
        if menu is None:
            return
        self._viewing[owner] = (tools, snippet)

        def wanted() -> bool:
            viewing = self._viewing.get(owner)
            return (
                viewing is not None
                and viewing[0] is tools
                and viewing[1] == snippet
                and tools is self.tools  # not when a newer classifier came in
            )

        for rank, (field, index) in enumerate(positions[: self.background_words]):
            if menu.peek(snippet, field, index) is None:
                priority = PREFETCH if rank < self.prefetch_words else BACKGROUND
                self._menu_job(menu, snippet, field, index, "replace", priority, wanted)

    def _menu_job(
        self,
        menu: Any,
        snippet: Snippet,
        field: Field,
        index: int,
        kind: str,
        priority: int,
        wanted: Callable[[], bool] | None,
    ) -> ToolJob:
        """The job that builds this menu: the one already queued or running (promoted to
        `priority` if that is better), or a new one.  Called on the event loop's thread
        only; the tool thread just removes finished jobs."""
        key = (id(menu), menu.key(snippet, field, index, kind))
        job = self._menu_jobs.get(key)
        if job is not None and self._tool_worker.promote(job, priority):
            if wanted is not None:
                job.wanted_by.append(wanted)
            return job
        job = self._tool_worker.submit(
            None, priority, lambda: menu.menu_steps(snippet, field, index, kind), wanted
        )
        self._menu_jobs[key] = job

        def forget(_: Any, job: ToolJob = job) -> None:
            if self._menu_jobs.get(key) is job:
                del self._menu_jobs[key]

        job.future.add_done_callback(forget)
        return job
