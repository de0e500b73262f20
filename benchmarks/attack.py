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
import json
import os
import random
import time
from pathlib import Path

os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")

import numpy as np
import torch

from highstakes.attacks import recipes
from highstakes.attacks.constraints.similarity import SentenceEncoder
from highstakes.attacks.run import attack_examples, attack_metrics
from highstakes.attacks.saliency import SaliencyMethod, word_saliency
from highstakes.data.demo import load_demo
from highstakes.data.records import Label, Snippet
from highstakes.data.splits import assign_splits
from highstakes.models.classifier import Classifier
from highstakes.models.generator import CausalLM
from menu_latency import menu_latency, menu_sample  # this folder's scripts


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
        parts: list[str] = []
        completion = rng.choice(demo).completion
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
