"""The studio's substitution menu, timed as a person uses it, and a sample to read: the
menu half of benchmarks/attack.py (which writes these figures; see its notes for what
each one means).  Times go through the studio's `ScoringService`, as the server's do."""

from __future__ import annotations

import asyncio
import json
import random
import time
from pathlib import Path
from typing import Any

import numpy as np

from highstakes.attacks.saliency import word_saliency
from highstakes.attacks.text import Field, words_of
from highstakes.data.records import Snippet
from highstakes.models.classifier import Classifier
from highstakes.models.generator import CausalLM
from highstakes.studio.services.scoring import ScoringService, Tools, build_menu


def _studio(clf: Classifier, lm: CausalLM) -> tuple[ScoringService, Any]:
    """The studio's menu (`build_menu`) behind a `ScoringService`, whose tool thread runs
    menus, saliency and prefetches exactly as the server's does."""
    menu = build_menu(clf, lm)
    tools = Tools(None, "bench", clf.threshold, lambda s: list(clf.score(s, fast=True)), menu, clf)
    return ScoringService(tools), menu


async def _timed(service: ScoringService, snippet: Snippet, index: int) -> tuple[float, list]:
    """A click on word `index` of the completion, served as the studio's menu route does."""
    t0 = time.perf_counter()
    items, _ = await service.menu(snippet, "completion", index)
    return (time.perf_counter() - t0) * 1000, items


def _forget(service: ScoringService, menu: Any) -> None:
    """Stop the prefetch of the text before and empty the menu cache and the LM's cache of
    texts: the next click is a cold one."""
    service.prefetch_menus("bench", Snippet("", ""), [])  # a new text: the old one's go
    while service._tool_worker.pending():
        time.sleep(0.005)
    menu.clear(readings=True)


async def _menu_latency(
    clf: Classifier, lm: CausalLM, snippets: list[Snippet], runs: int
) -> dict[str, Any]:
    rng = random.Random(2)
    service, menu = _studio(clf, lm)
    await service.start()
    await _timed(service, snippets[0], 0)  # load-time warm-up
    cold: list[float] = []  # click-to-menu ms: the first click on a text, no prefetch
    unfetched: list[float] = []  # later clicks on the text, no prefetch
    salient: list[float] = []  # clicks on prefetched (most salient) words
    anyword: list[float] = []  # clicks on any word, after the prefetch
    ready_first: list[float] = []  # seconds from load to the top word's menu ready
    ready_all: list[float] = []  # ... to every prefetched menu ready
    human: list[tuple[float, str, bool]] = []  # ms, field, from the cache
    immediate: list[tuple[float, str, bool]] = []
    sizes: list[int] = []
    n_fluent: list[int] = []
    for s in snippets:
        slots = [w.index for w in words_of(s.completion, "completion") if w.is_alpha]
        # without prefetch: the first click on a text reads it with the LM as well
        _forget(service, menu)
        for n, i in enumerate(rng.sample(slots, min(3, len(slots)))):
            ms, items = await _timed(service, s, i)
            (cold if n == 0 else unfetched).append(ms)
            sizes.append(len(items))
            n_fluent.append(sum(item.fluent for item in items))
        # with prefetch, as the studio does when the snippet loads: saliency, then the
        # menus of the most salient words on the tool thread; clicks once they are ready
        _forget(service, menu)
        t0 = time.perf_counter()
        positions = await _load(service, s)
        fetched = positions[: service.prefetch_words]
        while menu.peek(s, *fetched[0]) is None:
            await asyncio.sleep(0.005)
        ready_first.append(time.perf_counter() - t0)
        while any(menu.peek(s, *p) is None for p in fetched):
            await asyncio.sleep(0.005)
        ready_all.append(time.perf_counter() - t0)
        fetched_completion = [i for f, i in fetched if f == "completion"]
        for i in rng.sample(fetched_completion, min(3, len(fetched_completion))):
            salient.append((await _timed(service, s, i))[0])
        for i in rng.sample(slots, min(3, len(slots))):
            anyword.append((await _timed(service, s, i))[0])
        # a person: clicks from the moment the snippet loads, then at once
        _forget(service, menu)
        human.extend(await _human_clicks(service, s, rng))
        _forget(service, menu)
        immediate.extend(await _immediate_clicks(service, s, rng))
        if len(salient) >= runs:
            break
    waits = service.click_waits_ms()
    await service.stop()

    def pct(values: list[float], q: float) -> float:
        return float(np.percentile(values, q))

    return {
        # the click-to-menu wait on the words the studio highlights, after the prefetch
        # that the snippet's loading starts (what the 200 ms bar is about)
        "menu_p95_ms": pct(salient, 95),
        "menu_median_ms": pct(salient, 50),
        "menu_any_word_p95_ms": pct(anyword, 95),  # any word: prefetched or not
        "menu_any_word_median_ms": pct(anyword, 50),
        "menu_no_prefetch_p95_ms": pct(unfetched, 95),  # text already read by the LM
        "menu_no_prefetch_median_ms": pct(unfetched, 50),
        "menu_cold_p95_ms": pct(cold, 95),  # the first click on a new text, no prefetch
        "menu_cold_median_ms": pct(cold, 50),
        "menu_prefetch_first_ready_s": pct(ready_first, 50),  # load to the top word's menu
        "menu_prefetch_all_ready_s": pct(ready_all, 50),  # load to all prefetched menus
        "menu_prefetch_words": service.prefetch_words,
        "menu_clicks": len(salient) + len(anyword) + len(cold) + len(unfetched),
        "menu_min_items": min(sizes),
        "menu_median_items": float(np.median(sizes)),
        "menu_median_fluent_items": float(np.median(n_fluent)),
        "menu_tool_threads": service._tool_worker.threads,
        **_person_figures("menu_human_pace", human),
        **_person_figures("menu_immediate", immediate),
        # how long clicks not served from the cache waited for the tool thread: one step
        # (proposals, LM batch or classifier batch) of a menu being computed ahead, at most
        "menu_click_wait_median_ms": pct(waits, 50),
        "menu_click_wait_p95_ms": pct(waits, 95),
        "menu_click_wait_max_ms": max(waits),
        "menu_preempted_steps": service._tool_worker.n_preempted,  # done again after a click
        "menu_background_words": "all",
    }


def _classifier(tools: Tools) -> Classifier:
    """The classifier behind the tools (the benchmark's always have one)."""
    if tools.classifier is None:
        raise ValueError(f"tools {tools.name!r} have no classifier for saliency")
    return tools.classifier


async def _load(service: ScoringService, s: Snippet) -> list[tuple[Field, int]]:
    """What the studio does when a snippet loads: saliency on the tool thread, then the
    prefetch of every word's menu, most salient first.  The words, most salient first."""
    found, _ = await service.run_tool(lambda t: word_saliency(_classifier(t), s))
    ranked = sorted((w for w in found if w.word.is_alpha), key=lambda w: -w.score)
    positions = [(w.word.field, w.word.index) for w in ranked]
    service.prefetch_menus("bench", s, positions)
    return positions


async def _click(
    service: ScoringService, s: Snippet, field: Field, index: int
) -> tuple[float, str, bool]:
    """A click on a word: (ms to its menu, field, served from the cache)."""
    kept = service.tools.menu.peek(s, field, index) is not None  # type: ignore[union-attr]
    t0 = time.perf_counter()
    await service.menu(s, field, index)
    return (time.perf_counter() - t0) * 1000, field, kept


def _words(s: Snippet) -> list[tuple[Field, int]]:
    return [
        (field, w.index)
        for field in ("prompt", "completion")
        for w in words_of(getattr(s, field), field)
        if w.is_alpha
    ]


async def _human_clicks(
    service: ScoringService, s: Snippet, rng: random.Random, n: int = 5
) -> list[tuple[float, str, bool]]:
    """`n` clicks on words of `s` at a person's pace: the first 2-3 s after the snippet
    loads (it is read first), then one every 1.2-1.8 s (the menu read, a word chosen)."""
    t0 = time.perf_counter()
    await _load(service, s)
    out = []
    due = t0 + rng.uniform(2.0, 3.0)
    for field, index in rng.sample(_words(s), n):
        await asyncio.sleep(max(0.0, due - time.perf_counter()))
        out.append(await _click(service, s, field, index))
        due = time.perf_counter() + rng.uniform(1.2, 1.8)
    return out


async def _immediate_clicks(
    service: ScoringService, s: Snippet, rng: random.Random, n: int = 3
) -> list[tuple[float, str, bool]]:
    """`n` clicks from the moment the words show (saliency answered), each as soon as the
    menu before it shows: the least a prefetch can have done."""
    await _load(service, s)
    return [await _click(service, s, f, i) for f, i in rng.sample(_words(s), n)]


def _percentile(values: list[float], q: float) -> float | None:
    """None where no click of the kind was drawn (a small run can miss the completion)."""
    return float(np.percentile(values, q)) if values else None


def _person_figures(name: str, clicks: list[tuple[float, str, bool]]) -> dict[str, Any]:
    ms = [c[0] for c in clicks]
    completion = [c[0] for c in clicks if c[1] == "completion"]
    return {
        f"{name}_median_ms": _percentile(ms, 50),
        f"{name}_p95_ms": _percentile(ms, 95),
        f"{name}_completion_median_ms": _percentile(completion, 50),
        f"{name}_completion_p95_ms": _percentile(completion, 95),
        f"{name}_from_cache_rate": float(np.mean([c[2] for c in clicks])),
        f"{name}_clicks": len(clicks),
    }


def menu_latency(
    clf: Classifier, lm: CausalLM, snippets: list[Snippet], runs: int
) -> dict[str, Any]:
    """Click-to-menu times of the studio's menu, as a person clicks words: without
    prefetch (the first click on a text is cold: the LM reads the text), and after the
    prefetch that loading a snippet starts, on the highlighted words and on any word."""
    return asyncio.run(_menu_latency(clf, lm, snippets, runs))


def menu_sample(
    clf: Classifier, lm: CausalLM, snippets: list[Snippet], out: Path, n: int = 20
) -> None:
    """`n` menus to read for grammar: for each snippet, one of its three most salient
    completion words (as an attacker clicks them), and the menu's first five items with
    the completion as it would read."""
    rng = random.Random(3)
    menu = build_menu(clf, lm)
    with open(out, "w") as f:
        for s in snippets[:n]:
            ranked = sorted(
                (
                    w
                    for w in word_saliency(clf, s)
                    if w.word.is_alpha and w.word.field == "completion"
                ),
                key=lambda w: -w.score,
            )
            word = ranked[rng.randrange(min(3, len(ranked)))].word
            items = menu.menu(s, "completion", word.index)
            top = [
                {
                    "rank": rank,
                    "word": item.word,
                    "source": item.source,
                    "fluent": item.fluent,
                    "fluency": item.fluency,
                    "score": item.score,
                    "completion": item.snippet.completion,
                }
                for rank, item in enumerate(items[:5], start=1)
            ]
            row = {"prompt": s.prompt, "completion": s.completion, "clicked": word.text,
                   "index": word.index, "n_items": len(items), "top": top}  # fmt: skip
            f.write(json.dumps(row) + "\n")
