"""Attack benchmark: the substitution attack against a classifier trained on the demo set,
on its held-out injurious test snippets that it flags correctly, plus the latency of
saliency and of the substitution menu, all in one run.

usage: python benchmarks/attack.py --out attack.json [--model DIR] [--budget 200] [--n N]

Without --model it trains the default classifier first (as `make demo` does, ~7 min on
2 CPU cores) into runs/bench/classifier, or reuses it if already there.
Writes {"success_rate", "queries_per_success", "mean_fluency_change", "saliency_p95_ms",
"menu_p95_ms", ...} and, beside it, the successful examples (before/after) as JSONL.
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
from highstakes.attacks.candidates.embedding import EmbeddingNeighbours
from highstakes.attacks.candidates.lm import LanguageModelProposals
from highstakes.attacks.constraints.similarity import SentenceEncoder
from highstakes.attacks.menu import SubstitutionMenu
from highstakes.attacks.run import attack_examples, attack_metrics
from highstakes.attacks.saliency import SaliencyMethod, word_saliency
from highstakes.attacks.text import words_of
from highstakes.data.demo import load_demo
from highstakes.data.records import Label, Snippet
from highstakes.data.splits import assign_splits
from highstakes.models.classifier import Classifier
from highstakes.models.generator import CausalLM


def p95(values: list[float]) -> float:
    return float(np.percentile(values, 95))


def trained_classifier(model: str | None) -> Classifier:
    if model:
        return Classifier.from_pretrained(model)
    out = Path("runs/bench/classifier")
    if not (out / "highstakes.json").exists():
        from highstakes.training.trainer import TrainConfig, train

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


def menu_latency(menu: SubstitutionMenu, snippets: list[Snippet], runs: int) -> dict[str, float]:
    """Menus for random words, as a person clicks them: the first word of a snippet is a
    cold start (the LM reads the snippet), later words of the same snippet are warm."""
    rng = random.Random(2)
    menu.menu(snippets[0], "completion", 0)  # load-time warm-up
    cold, warm, sizes = [], [], []
    for s in snippets:
        slots = [w.index for w in words_of(s.completion, "completion") if w.is_alpha]
        for n, i in enumerate(rng.sample(slots, min(5, len(slots)))):
            t0 = time.perf_counter()
            items = menu.menu(s, "completion", i)
            (cold if n == 0 else warm).append((time.perf_counter() - t0) * 1000)
            sizes.append(len(items))
        if len(warm) >= runs:
            break
    return {
        "menu_p95_ms": p95(warm),
        "menu_median_ms": float(np.median(warm)),
        "menu_cold_p95_ms": p95(cold),
        "menu_min_items": min(sizes),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--model", help="trained classifier folder (default: train one)")
    parser.add_argument("--budget", type=int, default=200, help="queries per snippet")
    parser.add_argument("--n", type=int, default=0, help="attack at most N snippets (0: all)")
    parser.add_argument("--latency-runs", type=int, default=60)
    args = parser.parse_args()
    torch.manual_seed(0)

    clf = trained_classifier(args.model)
    test = assign_splits(load_demo())["test"]
    injurious = [e for e in test if e.label is Label.YES]
    scores = clf.score([e.snippet for e in injurious])
    flagged = [e for e, s in zip(injurious, scores, strict=True) if s >= clf.threshold]
    targets = flagged[: args.n] if args.n else flagged

    lm, encoder = CausalLM.from_pretrained(), SentenceEncoder()
    saliency_ms = saliency_latency(clf, args.latency_runs)
    menu = SubstitutionMenu(clf, [LanguageModelProposals(lm), EmbeddingNeighbours(clf)])
    menu_ms = menu_latency(menu, [e.snippet for e in targets], args.latency_runs)

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
