"""Where a menu's time goes: the three steps of a cold menu build, timed apart.

usage: python benchmarks/menu_steps.py --model runs/demo/round-0/model --out FILE
           [--snippets 8] [--words 8]

A click on a word whose menu was not computed ahead waits for all of
`SubstitutionMenu.build_steps`: the proposals (WordNet, the LM's, embedding neighbours,
the lexicon's edits), the grammar judge (agreement, then one SmolLM2 batch over the
offers at the word) and the classifier's batch over the 20-32 edits shown (its fast
path: bf16 where native, else fp32).  This times
each step on the first `--words` completion words of `--snippets` injurious test
snippets that the classifier flags (the menu's targets, as in benchmarks/attack.py),
with one torch thread, as the studio's tool thread runs them: the menu cache emptied
before each word, the LM's reading of a text before its first word (so `proposals` is a
word of a text already read, `proposals_first_word` includes the reading).  It times the
classifier's batch again on the main thread with every core: the least that step costs
here.  Run it on a quiet machine.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")

import numpy as np
import torch

from highstakes.attacks.text import words_of
from highstakes.data.demo import load_demo
from highstakes.data.records import Label, Snippet
from highstakes.data.splits import assign_splits
from highstakes.models.classifier import Classifier
from highstakes.models.generator import CausalLM
from highstakes.studio.services.scoring import build_menu
from lockstep import cpu_name  # this folder's scripts: the CPU's model name


def ms(values: list[float]) -> dict[str, float]:
    v = np.asarray(values) * 1000
    return {"median": float(np.median(v)), "p95": float(np.percentile(v, 95))}


def time_steps(clf: Classifier, menu: Any, slots: list[tuple[Snippet, int]]) -> dict:
    """Each slot's menu built cold through `build_steps`, timed at its two pauses."""
    steps: dict[str, list[float]] = {
        "proposals": [], "proposals_first_word": [], "judge": [], "classifier": [],
        "total": [], "total_first_word": [],
    }  # fmt: skip
    counts: dict[str, list[int]] = {"offers": [], "shown": [], "tokens": []}
    batches: list[list[Snippet]] = []
    for n, (snippet, index) in enumerate(slots):
        first = n == 0 or slots[n - 1][0] != snippet
        menu.clear(readings=first)  # a text's first word: its LM reading afresh too
        build = menu.build_steps(snippet, "completion", index)
        t0 = time.perf_counter()
        try:
            offers = next(build)  # the proposals
            t1 = time.perf_counter()
            next(build)  # the grammar judge
            t2 = time.perf_counter()
            next(build)  # the classifier's batch
        except StopIteration as done:
            items = done.value
        t3 = time.perf_counter()
        if not items:
            continue
        suffix = "_first_word" if first else ""
        steps["proposals" + suffix].append(t1 - t0)
        steps["total" + suffix].append(t3 - t0)
        steps["judge"].append(t2 - t1)
        steps["classifier"].append(t3 - t2)
        shown = [i.snippet for i in items]
        counts["offers"].append(offers)
        counts["shown"].append(len(shown))
        counts["tokens"].append(sum(len(i) for i in clf.encode(shown, padding=False)["input_ids"]))
        batches.append(shown)
    return {
        "ms": {k: ms(v) for k, v in steps.items()},
        "counts": {k: float(np.median(v)) for k, v in counts.items()},
        "batches": batches,
    }


def classifier_floor(clf: Classifier, batches: list[list[Snippet]]) -> dict[str, Any]:
    """The classifier's batches again with every core on the main thread: its fast path
    (as the menu scores) and fp32 for reference."""
    torch.set_num_threads(os.cpu_count() or 1)
    out: dict[str, Any] = {"threads": torch.get_num_threads(), "fast_kind": clf.fast_kind()}
    for name, call in (
        ("fast", lambda b: clf.score(b, fast=True)),
        ("fp32", lambda b: clf.score(b)),
    ):
        call(batches[0])  # warm-up
        times = []
        for batch in batches:
            t0 = time.perf_counter()
            call(batch)
            times.append(time.perf_counter() - t0)
        out[name] = ms(times)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True, help="trained classifier folder")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--snippets", type=int, default=8)
    parser.add_argument("--words", type=int, default=8, help="completion words per snippet")
    args = parser.parse_args()
    clf = Classifier.from_pretrained(args.model)
    test = assign_splits(load_demo())["test"]
    injurious = [e.snippet for e in test if e.label is Label.YES]
    scores = clf.score(injurious)
    flagged = [s for s, p in zip(injurious, scores, strict=True) if p >= clf.threshold]
    slots = [
        (s, w.index)
        for s in flagged[: args.snippets]
        for w in [w for w in words_of(s.completion, "completion") if w.is_alpha][: args.words]
    ]
    menu = build_menu(clf, CausalLM.from_pretrained())
    torch.set_num_threads(1)  # the tool thread's setting
    menu.menu(slots[0][0], "completion", slots[0][1])  # warm-up
    steps = time_steps(clf, menu, slots)
    result = {
        "model": str(args.model),
        "cpu": cpu_name(),
        "words": len(slots),
        "tool_thread": steps["ms"],
        "median_counts": steps["counts"],
        "classifier_all_cores": classifier_floor(clf, steps["batches"]),
        "load_average": os.getloadavg(),
    }
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
