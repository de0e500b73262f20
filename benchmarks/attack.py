"""Attack benchmark: the substitution attack against a classifier trained on the demo set,
on its held-out injurious test snippets that it flags correctly, plus the latency of
saliency and of the studio's substitution menu, all in one run.

usage: python benchmarks/attack.py --out attack.json [--model DIR] [--budget 200] [--n N]
       [--menu-only]

Without --model it trains the default classifier first (as `make demo` does, ~7 min on
2 CPU cores) into runs/bench/classifier, or reuses it if already there.
Writes {"success_rate", "queries_per_success", "mean_fluency_change", "saliency_p95_ms",
"menu_p95_ms", ...} and, beside it, the successful examples (before/after) as JSONL and
20 menus to read for grammar (`.menus.jsonl`).  --menu-only skips the attack.

The menu figures are click-to-menu times through the studio's `ScoringService` (its tool
thread, one torch thread): `menu_p95_ms` on the highlighted (most salient) words once the
prefetch that loading a snippet starts has their menus ready, `menu_any_word_*` on any
completion word after that (the prefetch of the other words goes on meanwhile),
`menu_no_prefetch_*` and `menu_cold_*` without prefetch (cold: the first click on a new
text).  Two more follow a person's clicks from the moment a snippet loads:
`menu_human_pace_*` clicks any word of the snippet (prompt or completion; `_completion_`
those of the completion) first 2-3 s after it loads, then one every 1.2-1.8 s;
`menu_immediate_*` clicks one word at once and two more each as soon as the menu before
shows.  `menu_click_wait_*` is how long those clicks waited for the tool thread (one
step of a menu computed ahead, in flight).  Run it on a quiet machine: with other work
on the 2 cores the times grow (the load average is written beside them).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")

import numpy as np
import torch

from highstakes.attacks import recipes
from highstakes.attacks.constraints.similarity import SentenceEncoder
from highstakes.attacks.run import attack_examples, attack_metrics
from highstakes.attacks.saliency import SaliencyMethod, word_saliency
from highstakes.attacks.text import Field, words_of
from highstakes.data.demo import load_demo
from highstakes.data.records import Label, Snippet
from highstakes.data.splits import assign_splits
from highstakes.models.classifier import Classifier
from highstakes.models.generator import CausalLM
from highstakes.studio.services.scoring import ScoringService, Tools, build_menu


def p95(values: list[float]) -> float:
    return float(np.percentile(values, 95))


def trained_classifier(model: str | None) -> Classifier:
    if model:
        return Classifier.from_pretrained(model)
    out = Path("runs/bench/classifier")
    if not (out / "highstakes.json").exists():
        from highstakes.training.config import TrainConfig
        from highstakes.training.trainer import train

        parts = assign_splits(load_demo())
        train(TrainConfig(), parts["train"], parts["valid"], out, resume=True)
    return Classifier.from_pretrained(out)


def long_snippets(n: int, words: int = 120) -> list[Snippet]:
    """Snippets of about `words` words: demo prompts strung together, one completion."""
    demo = load_demo()
    rng = random.Random(1)
    out = []
    for _ in range(n):
        parts, completion = [], rng.choice(demo).completion
        while sum(len(p.split()) for p in parts) + len(completion.split()) < words:
            parts.append(rng.choice(demo).prompt)
        prompt = " ".join(" ".join(parts).split()[: words - len(completion.split())])
        out.append(Snippet(prompt, completion))
    return out


def saliency_latency(clf: Classifier, runs: int) -> dict[str, float]:
    snippets = long_snippets(runs)
    out = {}
    for method in SaliencyMethod:
        word_saliency(clf, snippets[0], method)  # warm-up
        times = []
        for s in snippets:
            t0 = time.perf_counter()
            word_saliency(clf, s, method)
            times.append((time.perf_counter() - t0) * 1000)
        out[method.value] = p95(times)
    return out


def _studio(clf: Classifier, lm: CausalLM) -> tuple[ScoringService, Any]:
    """The studio's menu (`build_menu`) behind a `ScoringService`, whose tool thread runs
    menus, saliency and prefetches exactly as the server's does."""
    menu = build_menu(clf, lm)
    tools = Tools(None, "bench", clf.threshold, lambda s: clf.score(s, fast=True), menu, clf)
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


async def _load(service: ScoringService, s: Snippet) -> list[tuple[Field, int]]:
    """What the studio does when a snippet loads: saliency on the tool thread, then the
    prefetch of every word's menu, most salient first.  The words, most salient first."""
    found, _ = await service.run_tool(lambda t: word_saliency(t.classifier, s))
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
        for w in words_of(getattr(s, field), field)  # type: ignore[arg-type]
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


def _person_figures(name: str, clicks: list[tuple[float, str, bool]]) -> dict[str, Any]:
    ms = [c[0] for c in clicks]
    completion = [c[0] for c in clicks if c[1] == "completion"]
    return {
        f"{name}_median_ms": float(np.percentile(ms, 50)),
        f"{name}_p95_ms": float(np.percentile(ms, 95)),
        f"{name}_completion_median_ms": float(np.percentile(completion, 50)),
        f"{name}_completion_p95_ms": float(np.percentile(completion, 95)),
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--model", help="trained classifier folder (default: train one)")
    parser.add_argument("--budget", type=int, default=200, help="queries per snippet")
    parser.add_argument("--n", type=int, default=0, help="attack at most N snippets (0: all)")
    parser.add_argument("--latency-runs", type=int, default=60)
    parser.add_argument(
        "--menu-only", action="store_true", help="only the menu's latency and read sample"
    )
    args = parser.parse_args()
    torch.manual_seed(0)

    clf = trained_classifier(args.model)
    test = assign_splits(load_demo())["test"]
    injurious = [e for e in test if e.label is Label.YES]
    scores = clf.score([e.snippet for e in injurious])
    flagged = [e for e, s in zip(injurious, scores, strict=True) if s >= clf.threshold]
    targets = flagged[: args.n] if args.n else flagged

    lm = CausalLM.from_pretrained()
    snippets = [e.snippet for e in targets]
    menu_ms = menu_latency(clf, lm, snippets, args.latency_runs)
    menu_ms["menu_load_average"] = os.getloadavg()  # other work on the 2 cores meanwhile
    menu_sample(clf, lm, snippets, args.out.with_suffix(".menus.jsonl"))
    if args.menu_only:
        result = {**menu_ms, "threads": torch.get_num_threads(), "load_average": os.getloadavg()}
        args.out.write_text(json.dumps(result, indent=2))
        print(json.dumps(result, indent=2))
        return
    encoder = SentenceEncoder()
    saliency_ms = saliency_latency(clf, args.latency_runs)

    attack = recipes.build("substitution", clf, lm=lm, encoder=encoder)
    t0 = time.perf_counter()
    records = attack_examples(attack, clf, targets, clf.threshold, args.budget)
    metrics = attack_metrics(records, lm, encoder)
    result = {
        "n_test_injurious": len(injurious),
        "n_flagged": len(flagged),
        "threshold": clf.threshold,
        "budget": args.budget,
        **{
            k: metrics[k] for k in ("attempted", "succeeded", "success_rate", "queries_per_success")
        },
        "mean_fluency_change": metrics.get("mean_fluency_change"),
        "mean_similarity": metrics.get("mean_similarity"),
        "mean_fraction_words_changed": metrics.get("mean_fraction_words_changed"),
        "wall_seconds_per_success": metrics["wall_seconds_per_success"],
        "attack_wall_seconds": time.perf_counter() - t0,
        "saliency_p95_ms": saliency_ms[SaliencyMethod.INTEGRATED_GRADIENTS.value],
        "saliency_p95_ms_by_method": saliency_ms,
        **menu_ms,
        "threads": torch.get_num_threads(),
        "load_average": os.getloadavg(),  # other work on the machine while it ran
    }
    args.out.write_text(json.dumps(result, indent=2))
    with open(args.out.with_suffix(".examples.jsonl"), "w") as f:
        for r in records:
            if r.result.succeeded:
                best = r.result.found[0]
                f.write(
                    json.dumps(
                        {
                            "id": r.example.id,
                            "prompt": r.example.prompt,
                            "before": r.example.completion,
                            "after_prompt": best.snippet.prompt,
                            "after": best.snippet.completion,
                            "score_before": r.result.original_score,
                            "score_after": best.score,
                            "queries": r.result.queries,
                            "edits": [e.describe() for e in best.edits],
                        }
                    )
                    + "\n"
                )
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
