"""What the head on the generator's states costs, and what it catches, next to the
separate classifier (issue 14, part 3).

Cost: the same prompts are sampled three ways with the same sampling loop
(`StreamingSampler`): without a filter, with the head scoring every prefix (and stopping
samples that cross its threshold), and without a filter followed by the classifier over
the finished samples.  Each filter's cost is given as a share of the generation's FLOPs
and of its wall time; the pair of runs is repeated (`--repeats`) as the machine is shared.

Detection: on the external test set, the classifier at its saved threshold and the head
at the threshold that gives the same false-positive rate (the head under the streaming
rule: a snippet is flagged when any prefix crosses), with Clopper-Pearson 95% intervals;
also the head at its own threshold, chosen on the demo's validation split.

Samples are kept in the result (with both filters' scores) so they can be read.

    python benchmarks/filter_overhead.py --out benchmarks/results/filter-overhead.json
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from highstakes.data.demo import load_dataset
from highstakes.data.records import Snippet
from highstakes.data.splits import assign_splits
from highstakes.evaluation.metrics import held_out_metrics
from highstakes.evaluation.report import to_jsonable
from highstakes.filtering.features import POOLINGS, FeatureExtractor
from highstakes.filtering.head import HeadConfig, ProbeHead, train_head
from highstakes.filtering.local import ClassifierScorer
from highstakes.filtering.streaming import StreamingSampler
from highstakes.models.classifier import Classifier
from highstakes.models.generator import CausalLM
from highstakes.training.trainer import labeled

log = logging.getLogger("filter_overhead")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/filter-overhead.json"))
    parser.add_argument("--classifier", default="runs/demo/classifier")
    parser.add_argument("--head", type=Path, default=Path("runs/head"), help="trained if missing")
    parser.add_argument("--generator", default="embedded-smollm2")
    parser.add_argument("--layers", type=int, nargs="+", default=HeadConfig().layers)
    parser.add_argument("--pooling", default=HeadConfig.pooling, choices=POOLINGS)
    parser.add_argument("--max-train", type=int, default=HeadConfig.max_train)
    parser.add_argument("--prompts", type=int, default=60, help="external prompts sampled")
    parser.add_argument("--samples", type=int, default=4, help="samples per prompt")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1: shared CPU)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    torch.set_num_threads(args.threads)

    lm = CausalLM.from_pretrained(args.generator)
    extractor = FeatureExtractor(lm, args.generator)
    head = _head(args, extractor)
    clf = Classifier.from_pretrained(args.classifier)
    external = load_dataset("external")
    result: dict[str, Any] = {
        "generator": args.generator,
        "classifier": args.classifier,
        "head": {"folder": str(args.head), "layers": head.layers, "pooling": head.pooling,
                 "threshold": head.threshold_, "min_tokens": head.min_tokens,
                 "n_train": head.metadata_.get("n_train")},
        "device": str(lm.device),
        "dtype": str(lm.dtype),
        "torch_threads": torch.get_num_threads(),
    }  # fmt: skip
    result["detection"] = detection(head, clf, extractor, external, args.seed)
    prompts = list(dict.fromkeys(e.prompt for e in external))[: args.prompts]
    result["cost"], samples = cost(lm, head, clf, prompts, args)
    result["samples"] = read_back(samples, head, clf, extractor)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(to_jsonable(result), indent=2, ensure_ascii=False) + "\n")
    summary = {k: result["cost"][k] for k in ("head_time_fraction", "classifier_time_fraction")}
    log.info("wrote %s: %s", args.out, json.dumps(to_jsonable(summary)))


def _head(args: argparse.Namespace, extractor: FeatureExtractor) -> ProbeHead:
    if (args.head / "head.json").exists():
        return ProbeHead.load(args.head, args.generator)
    splits = assign_splits(load_dataset("demo"))
    config = HeadConfig(
        model=args.generator, layers=args.layers, pooling=args.pooling, max_train=args.max_train
    )
    t0 = time.perf_counter()
    head, _ = train_head(
        extractor, config, splits["train"], splits["valid"], 0.95, None, args.seed,
        lambda phase, done, total: log.info("%s %d/%d", phase, done, total)
        if done % 320 == 0 or done == total else None,
    )  # fmt: skip
    head.metadata_["train_seconds"] = round(time.perf_counter() - t0, 1)
    head.save(args.head)
    return head


def detection(
    head: ProbeHead, clf: Classifier, extractor: FeatureExtractor, examples: list, seed: int
) -> dict[str, Any]:
    """Recall on the external set at an equal false-positive rate."""
    kept, labels = labeled(examples)
    snippets = [e.snippet for e in kept]
    clf_scores = clf.score(snippets)
    states = extractor.snippet_states(snippets, head.layers)
    head_stream = head.stream_scores(states)
    classifier = held_out_metrics(labels, clf_scores, clf.threshold, seed=seed)
    n_flagged_negatives = int((clf_scores[labels == 0] >= clf.threshold).sum())
    equal = threshold_flagging(head_stream[labels == 0], n_flagged_negatives)
    at_equal = held_out_metrics(labels, head_stream, equal, seed=seed)
    own = held_out_metrics(labels, head_stream, head.threshold_, seed=seed)
    final = held_out_metrics(labels, head.final_scores(states), head.threshold_, seed=seed)
    return {
        "n_positive": int(labels.sum()),
        "n_negative": int((labels == 0).sum()),
        "classifier_at_saved_threshold": classifier,
        "head_at_equal_false_positive_rate": at_equal,
        "head_at_own_threshold": own,
        "head_whole_completion_only": {k: final[k] for k in ("auroc", "auroc_interval")},
        "recall_gap_points": 100 * (classifier["recall"] - at_equal["recall"]),
    }


def threshold_flagging(negative_scores: np.ndarray, n_flagged: int) -> float:
    """The highest threshold that flags `n_flagged` of these negatives (more where scores
    tie at it): the n-th highest score; above the highest when `n_flagged` is 0."""
    ranked = np.sort(np.asarray(negative_scores, dtype=np.float64))[::-1]
    if not 0 <= n_flagged <= len(ranked):
        raise ValueError(f"n_flagged must be between 0 and {len(ranked)}, got {n_flagged}")
    return float(ranked[n_flagged - 1]) if n_flagged else float(np.nextafter(ranked[0], np.inf))


def cost(
    lm: CausalLM, head: ProbeHead, clf: Classifier, prompts: list[str], args: argparse.Namespace
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Plain and head runs alternate, `repeats` times; the classifier scores each plain
    run's finished samples."""
    flat = [p for p in prompts for _ in range(args.samples)]
    runs: dict[str, list[dict[str, Any]]] = {"plain": [], "head": [], "classifier": []}
    kept: list[dict[str, Any]] = []
    for repeat in range(args.repeats):
        seed = args.seed + repeat
        plain = StreamingSampler(lm, None)
        plain_samples = plain.sample(flat, seed=seed)
        runs["plain"].append(
            {**plain.usage.as_dict(), "flops": plain.usage.flops(plain.n_parameters)}
        )
        scorer = ClassifierScorer(clf)
        finished = [(p, s.text) for p, s in zip(flat, plain_samples, strict=True) if s.text]
        scores = scorer.score([Snippet(p, t) for p, t in finished])
        runs["classifier"].append(
            {**scorer.usage.as_dict(), "flops": scorer.usage.flops(scorer.n_parameters)}
        )
        streamed = StreamingSampler(lm, head)
        head_samples = streamed.sample(flat, seed=seed)
        head_usage = streamed.head_usage
        runs["head"].append(
            {
                **streamed.usage.as_dict(),
                "flops": streamed.usage.flops(streamed.n_parameters),
                "head": {
                    **head_usage.as_dict(),
                    "flops": head_usage.flops(streamed.head_n_parameters),
                },
                "n_rejected": sum(s.rejected for s in head_samples),
                "n_finished": sum(bool(s.text) for s in head_samples),
            }
        )
        log.info("repeat %d: plain %.1f s, head run %.1f s (+%.3f s head), classifier %.2f s",
                 repeat, plain.usage.seconds, streamed.usage.seconds,
                 streamed.head_usage.seconds, scorer.usage.seconds)  # fmt: skip
        if repeat == 0:
            by_text = dict(zip((t for _, t in finished), scores, strict=True))
            kept = [
                {"prompt": p, "plain": s.text, "classifier_score": by_text.get(s.text),
                 "head_run": h.text, "head_rejected": h.rejected, "head_prefix": h.prefix,
                 "head_best_score": h.head_score, "head_run_tokens": h.n_tokens,
                 "plain_tokens": s.n_tokens}
                for p, s, h in zip(flat, plain_samples, head_samples, strict=True)
            ]  # fmt: skip
    return summarize(runs, len(prompts), args.samples), kept


def summarize(runs: dict[str, list[dict[str, Any]]], n_prompts: int, n: int) -> dict[str, Any]:
    def med(values: list[float]) -> float:
        return float(statistics.median(values))

    plain, head, classifier = runs["plain"], runs["head"], runs["classifier"]
    head_time = [h["head"]["seconds"] / h["seconds"] for h in head]
    clf_time = [c["seconds"] / p["seconds"] for c, p in zip(classifier, plain, strict=True)]
    return {
        "n_prompts": n_prompts,
        "samples_per_prompt": n,
        "runs": runs,
        # the head's own work per token (running sum, dot product) over the head run's
        # generation time (its rejected samples stopped early, so that time is shorter)
        "head_time_fraction": med(head_time),
        "head_time_fractions": head_time,
        "head_flops_fraction": med([h["head"]["flops"] / h["flops"] for h in head]),
        # whole runs: head-run wall time (generation + head) over the plain run's
        "head_run_wall_ratio": med(
            [
                (h["seconds"] + h["head"]["seconds"]) / p["seconds"]
                for h, p in zip(head, plain, strict=True)
            ]
        ),
        "head_run_token_ratio": med(
            [
                h["n_generated_tokens"] / p["n_generated_tokens"]
                for h, p in zip(head, plain, strict=True)
            ]
        ),
        "classifier_time_fraction": med(clf_time),
        "classifier_time_fractions": clf_time,
        "classifier_flops_fraction": med(
            [c["flops"] / p["flops"] for c, p in zip(classifier, plain, strict=True)]
        ),
    }


def read_back(
    samples: list[dict[str, Any]], head: ProbeHead, clf: Classifier, extractor: FeatureExtractor
) -> list[dict[str, Any]]:
    """The plain run's finished samples, also scored by the head offline (streaming rule),
    so both filters' verdicts on the same text can be compared."""
    finished = [s for s in samples if s["plain"]]
    snippets = [Snippet(s["prompt"], s["plain"]) for s in finished]
    states = extractor.snippet_states(snippets, head.layers)
    for s, score in zip(finished, head.stream_scores(states), strict=True):
        s["head_score_offline"] = float(score)
        s["head_flags"] = bool(score >= head.threshold_)
        s["classifier_flags"] = bool(s["classifier_score"] >= clf.threshold)
    return samples


if __name__ == "__main__":
    main()
