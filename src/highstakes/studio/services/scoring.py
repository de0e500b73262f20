"""The classifier inside the server: micro-batched scoring, menus and saliency.

Concurrent score requests wait a few milliseconds on a queue and are scored together in
one forward pass, which is what keeps p95 latency flat when thirty attackers type at
once.  Menus and saliency run on their own worker thread so a menu never sits in the
score queue.  `swap` replaces the classifier between batches: a batch already running
finishes on the old version, the next one uses the new, and no request is dropped.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from highstakes.data.records import Snippet

log = logging.getLogger(__name__)

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


def load_tools(
    path: str, version_id: int | None, name: str, lm: Any | None = None, fast: bool = True
) -> Tools:
    """Load a classifier folder with its menu sources: embedding neighbours, the language
    model's proposals when `lm` is given, WordNet synonyms when WordNet is installed, and
    the injury lexicon's other phrases for the injury a clicked word belongs to."""
    from highstakes.attacks.candidates.embedding import EmbeddingNeighbours
    from highstakes.attacks.candidates.wordnet import WordNetSynonyms
    from highstakes.attacks.lexicon import default_lexicon
    from highstakes.attacks.menu import SubstitutionMenu
    from highstakes.attacks.preserving import LexiconEdits
    from highstakes.models.classifier import Classifier

    clf = Classifier.from_pretrained(path)
    sources: list[Any] = [EmbeddingNeighbours(clf)]
    if lm is not None:
        from highstakes.attacks.candidates.lm import LanguageModelProposals

        sources.insert(0, LanguageModelProposals(lm))
    if WordNetSynonyms.available():
        sources.insert(0, WordNetSynonyms())
    edit_sources = [LexiconEdits(default_lexicon(), k=8)]

    def score(snippets: Sequence[Snippet]) -> Sequence[float]:
        return [float(p) for p in clf.score(snippets, fast=fast)]

    menu = SubstitutionMenu(clf, sources, edit_sources=edit_sources)
    return Tools(version_id, name, clf.threshold, score, menu, clf)


@dataclass
class _Request:
    snippet: Snippet
    future: asyncio.Future[tuple[float, Tools]]


class ScoringService:
    def __init__(self, tools: Tools, max_batch: int = 32, max_wait_ms: float = 4.0) -> None:
        self.tools = tools
        self.max_batch = max_batch
        self.max_wait = max_wait_ms / 1000
        self._queue: asyncio.Queue[_Request] | None = None
        self._worker: asyncio.Task[None] | None = None
        self._score_pool = ThreadPoolExecutor(1, thread_name_prefix="score")
        self._tool_pool = ThreadPoolExecutor(1, thread_name_prefix="menu")
        self.batches = 0

    async def start(self) -> None:
        self._queue = asyncio.Queue()
        self._worker = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._worker:
            self._worker.cancel()
            await asyncio.gather(self._worker, return_exceptions=True)
        self._score_pool.shutdown(wait=True)
        self._tool_pool.shutdown(wait=True)

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

    async def run_tool(self, fn: Callable[[Tools], Any]) -> tuple[Any, Tools]:
        """Run `fn(tools)` (a menu, saliency) on the tool thread."""
        tools = self.tools
        result = await asyncio.get_running_loop().run_in_executor(self._tool_pool, fn, tools)
        return result, tools
