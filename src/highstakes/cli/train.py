"""`highstakes train` and `highstakes demo`."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from highstakes.cli.errors import user_errors
from highstakes.cli.progress import console, progress_bar


def _run_training(data: str, out: Path, overrides: dict[str, Any], resume: bool) -> dict[str, Any]:
    """Train on the train split, pick the threshold on valid, report on the held-out test."""
    from highstakes.data.demo import load_dataset
    from highstakes.data.splits import assign_splits
    from highstakes.training.trainer import TrainConfig, evaluate, train

    cfg = TrainConfig(**overrides)
    t0 = time.perf_counter()
    splits = assign_splits(load_dataset(data))
    with progress_bar() as update:
        result = train(cfg, splits["train"], splits["valid"], out, resume=resume, progress=update)
    clf = result.classifier
    test = evaluate(clf, splits["test"], threshold=clf.threshold)
    report = {
        "model_dir": str(out),
        "best_epoch": result.best_epoch,
        "stopped_early": result.stopped_early,
        "threshold": clf.threshold,
        "test": test,
        "valid": {
            k[6:]: v
            for k, v in result.history[result.best_epoch - 1].items()
            if k.startswith("valid_")
        },
        "wall_seconds": time.perf_counter() - t0,
    }
    (out / "metrics.json").write_text(json.dumps(report, indent=2))
    _print_report(report)
    return report


def _print_report(report: dict[str, Any]) -> None:
    table = Table(title=f"held-out results (threshold {report['threshold']:.4g})")
    for col in ("split", "AUROC", "recall", "false-positive rate", "positives", "negatives"):
        table.add_column(col, justify="right")
    for split in ("valid", "test"):
        m = report[split]
        table.add_row(
            split,
            f"{m['auroc']:.4f}",
            f"{m['recall']:.3f}",
            f"{m['false_positive_rate']:.3f}",
            str(int(m["n_positive"])),
            str(int(m["n_negative"])),
        )
    console.print(table)
    console.print(
        f"model saved to {report['model_dir']} (best epoch {report['best_epoch']}); "
        f"{report['wall_seconds']:.0f} s"
    )


def train_command(
    out: Path = typer.Option(..., "--out", help="Folder for the trained model and metrics."),
    data: str = typer.Option("demo", "--data", help="'demo' or a data file/folder."),
    model: str = typer.Option(
        "embedded-minilm", "--model", help="Backbone: embedded-minilm, a local folder or hub id."
    ),
    epochs: int = typer.Option(10, min=1, help="Maximum epochs (early stopping may end sooner)."),
    patience: int = typer.Option(
        2, min=1, help="Stop after this many epochs without a better validation AUROC."
    ),
    schedule: str = typer.Option(
        "linear", help="Learning-rate decay after warmup: linear, cosine or constant."
    ),
    batch_size: int = typer.Option(32, min=1, help="Examples per optimizer step."),
    learning_rate: float = typer.Option(5e-5, "--lr", min=0.0, help="Peak learning rate."),
    max_length: int = typer.Option(160, min=16, help="Token limit per snippet pair."),
    sift: bool = typer.Option(False, "--sift", help="Add the SiFT adversarial regularizer."),
    target_recall: float = typer.Option(
        0.95, min=0.01, max=1.0, help="The saved threshold flags this share of valid positives."
    ),
    recall_confidence: float = typer.Option(
        None,
        min=0.5,
        max=0.999,
        help="Choose the threshold so that the exact lower confidence bound on validation "
        "recall, at this confidence, reaches --target-recall (default: the point estimate).",
    ),
    seed: int = typer.Option(0, help="Seed for data order, dropout and the new head."),
    device: str = typer.Option(None, help="cpu or cuda; default: cuda when available."),
    resume: bool = typer.Option(False, "--resume", help="Continue from OUT's last checkpoint."),
) -> None:
    """Fine-tune a classifier on the train split, choose its threshold on valid, report test.

    Examples labeled 'unsure' are left out.  Every epoch is checkpointed; rerun with --resume
    after an interruption.  The model folder is Hugging Face format plus highstakes.json.
    """
    overrides = dict(
        model=model,
        epochs=epochs,
        patience=patience,
        schedule=schedule,
        batch_size=batch_size,
        learning_rate=learning_rate,
        max_length=max_length,
        sift=sift,
        target_recall=target_recall,
        recall_confidence=recall_confidence,
        seed=seed,
        device=device,
    )
    with user_errors():
        _run_training(data, out, overrides, resume)
