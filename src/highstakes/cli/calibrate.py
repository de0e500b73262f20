"""`highstakes calibrate`: choose the threshold as conservatively as quality allows."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from highstakes.cli.errors import user_errors
from highstakes.cli.progress import batch_counter, console, progress_bar


def calibrate_command(
    model: Path = typer.Option(..., "--model", help="Trained classifier folder."),
    data: str = typer.Option("demo", "--data", help="'demo' or a data file; uses its valid split."),
    ratings: Path = typer.Option(
        None, "--ratings", help="JSONL of pairwise ratings: threshold, preferred."
    ),
    target_recall: float = typer.Option(
        None, "--target-recall", min=0.01, max=1.0, help="Also flag this share of valid positives."
    ),
    epsilon: float = typer.Option(
        0.05, "--epsilon", min=0.001, max=0.49, help="Allowed preference for unfiltered: 0.5+E."
    ),
    confidence: float = typer.Option(0.95, min=0.51, max=0.999, help="For the quality bound."),
    out: Path = typer.Option(Path("runs/calibration"), "--out", help="Folder for the report."),
    generator: str = typer.Option(
        "embedded-smollm2", help="Local causal LM for the likelihood proxy (no ratings)."
    ),
    proxy_prompts: int = typer.Option(
        48, min=0, help="Prompts sampled for the proxy; 0 turns the proxy off."
    ),
    samples_per_prompt: int = typer.Option(8, min=2, help="Completions per proxy prompt."),
    sample_file: Path = typer.Option(
        None, "--sample", help="Reuse (or save) the proxy's completions here; they are rescored."
    ),
    tries: int = typer.Option(16, "--tries", min=1, help="The filter's tries before fallback."),
    write_threshold: bool = typer.Option(
        False, "--write-threshold", help="Save the chosen threshold into the model folder."
    ),
    seed: int = typer.Option(0, help="Seed for prompt choice, sampling and the bootstrap."),
) -> None:
    """Find the lowest threshold whose filtered completions keep quality: from human
    ratings when --ratings is given, else from the generator's likelihood of filtered vs
    unfiltered completions.  Writes metrics.json and report.html to --out."""
    from highstakes.evaluation.calibration import ThresholdCalibrator, read_ratings

    with user_errors():
        rated = read_ratings(ratings) if ratings is not None else None  # checked first
        clf, labels, scores, prompts = _validation_scores(model, data)
        sample = None
        # A saved sample is used even with ratings: it measures the deployed rejection rate.
        reuse = sample_file is not None and sample_file.exists()
        if reuse or (rated is None and proxy_prompts > 0):
            random.Random(seed).shuffle(prompts)
            sample = _completion_sample(
                clf, generator, prompts[:proxy_prompts], samples_per_prompt, sample_file, out, seed
            )
        cal = ThresholdCalibrator(
            target_recall=target_recall,
            epsilon=epsilon,
            confidence=confidence,
            max_tries=tries,
            random_state=seed,
        ).fit(labels, scores, ratings=rated, sample=sample)
        summary = _write(cal, labels, scores, out)
        if write_threshold:
            _save_threshold(model, summary)
    _print(summary, out, write_threshold)


def _validation_scores(model: Path, data: str) -> tuple[Any, Any, Any, list[str]]:
    from highstakes.data.demo import load_dataset
    from highstakes.data.splits import assign_splits
    from highstakes.models.classifier import Classifier
    from highstakes.training.trainer import labeled

    valid, labels = labeled(assign_splits(load_dataset(data))["valid"])
    if len(valid) == 0:
        raise ValueError(f"{data} has no labeled validation examples")
    clf = Classifier.from_pretrained(model)
    with progress_bar() as update:
        on_batch = batch_counter(update, "scoring validation", len(valid))
        scores = clf.score([e.snippet for e in valid], on_batch=on_batch)
    prompts = sorted({e.prompt for e in valid})
    return clf, labels, scores, prompts


def _completion_sample(
    clf: Any,
    generator: str,
    prompts: list[str],
    m: int,
    sample_file: Path | None,
    out: Path,
    seed: int,
) -> Any:
    from highstakes.evaluation.quality import CompletionSample, draw_completion_sample

    if sample_file is not None and sample_file.exists():
        from highstakes.data.jsonl import read_jsonl

        old = CompletionSample.from_rows(read_jsonl(sample_file))
        return old.rescored(_rescore(clf, old))
    if generator.startswith(("http://", "https://")):
        raise ValueError("the likelihood proxy needs a local --generator; give --ratings instead")
    from highstakes.filtering.local import LocalGenerator

    gen = LocalGenerator.from_pretrained(generator)
    with progress_bar() as update:
        sample = draw_completion_sample(gen, gen.lm, clf.score, prompts, m, seed, progress=update)
    path = sample_file or out / "completion_sample.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in sample.to_rows()))
    return sample


def _rescore(clf: Any, sample: Any) -> Any:
    import numpy as np

    from highstakes.data.records import Snippet

    scores = np.full(sample.scores.shape, np.nan)
    cells = np.argwhere(sample.valid)
    if len(cells):
        snippets = [Snippet(sample.prompts[i], sample.completions[i][j]) for i, j in cells]
        scores[cells[:, 0], cells[:, 1]] = clf.score(snippets)
    return scores


def _write(cal: Any, labels: Any, scores: Any, out: Path) -> dict[str, Any]:
    from highstakes.evaluation.report import (
        detection_section,
        tradeoff_section,
        write_report,
    )
    from highstakes.evaluation.robustness import detection_curves

    summary = cal.summary()
    sections = [tradeoff_section(summary, cal.curve_, cal.epsilon)]
    metrics: dict[str, Any] = {"calibration": summary, "curve": cal.curve_.as_dict()}
    if 0 < labels.sum() < labels.size:
        curves = detection_curves("validation", labels, scores)
        sections.append(detection_section([curves]))
        metrics["validation"] = curves.as_dict()
    write_report(out, metrics, sections, "highstakes threshold calibration")
    return summary


def _save_threshold(model: Path, summary: dict[str, Any]) -> None:
    from highstakes.models.saved import write_threshold

    keys = ("limited_by", "quality_source", "epsilon", "confidence")
    write_threshold(model, summary["threshold"], calibration={k: summary[k] for k in keys})


def _print(summary: dict[str, Any], out: Path, saved: bool) -> None:
    at = summary["at_threshold"]
    table = Table(title="calibrated threshold", show_header=False)

    def fmt(x: Any) -> str:
        return "n/a" if x is None else f"{x:.4g}" if isinstance(x, float) else str(x)

    for name, value in (
        ("threshold", summary["threshold"]),
        ("limited by", summary["limited_by"]),
        ("quality from", summary["quality_source"]),
        ("rejection rate", at.get("rejection_rate")),
        ("validation recall", at.get("recall")),
        ("preference for unfiltered", at.get("preference_for_unfiltered")),
        ("its upper bound", at.get("preference_upper")),
        ("recall target met", summary["recall_met"]),
    ):
        table.add_row(name, fmt(value))
    console.print(table)
    console.print(f"report: {out / 'report.html'}" + ("; threshold saved" if saved else ""))
