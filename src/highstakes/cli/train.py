"""`highstakes train` and `highstakes demo`."""

from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.table import Table

from highstakes.cli.errors import user_errors
from highstakes.cli.options import given
from highstakes.cli.progress import console, progress_bar

if TYPE_CHECKING:
    from highstakes.training.config import TrainConfig


def _run_training(data: str, out: Path, cfg: TrainConfig, resume: bool) -> dict[str, Any]:
    """Train on the train split, pick the threshold on valid, report on the held-out test."""
    from highstakes.data.demo import load_dataset
    from highstakes.data.splits import assign_splits
    from highstakes.training.trainer import evaluate, train

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


# flags that are not settings of a training run
NOT_SETTINGS = ("out", "data", "config", "resume")
LAT_FLAGS = ("lat_layers", "lat_radius", "lat_steps")  # settings of [train.lat_config]


def _settings(ctx: typer.Context, config: str | None) -> tuple[TrainConfig, str | None]:
    """The run's TrainConfig and its data: the flags alone, or a loop config's [train]
    section and data with the flags given on the command line put over them."""
    from highstakes.loop.config import read_config
    from highstakes.training.config import TrainConfig

    flags = {k: v for k, v in ctx.params.items() if k not in NOT_SETTINGS}
    flags["lat_layers"] = _layers(flags["lat_layers"])
    if config is None:
        base, data = TrainConfig(), None
    else:
        loop = read_config(config)
        base, data = loop.train, loop.data
        flags = {k: v for k, v in flags.items() if given(ctx, k)}
    lat = {k[4:]: flags.pop(k) for k in LAT_FLAGS if k in flags}
    lat_config = replace(base.lat_config, **{k: v for k, v in lat.items() if v is not None})
    return replace(base, **flags, lat_config=lat_config), data


def _layers(text: str | None) -> tuple[int, ...] | None:
    if text is None:
        return None
    try:
        return tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise typer.BadParameter(
            f"--lat-layers takes block indices separated by commas, like '1,3'; got {text!r}"
        ) from None


def train_command(
    ctx: typer.Context,
    out: Path = typer.Option(..., "--out", help="Folder for the trained model and metrics."),
    data: str = typer.Option("demo", "--data", help="'demo' or a data file/folder."),
    model: str = typer.Option(
        "embedded-minilm", "--model", help="Backbone: embedded-minilm, a local folder or hub id."
    ),
    epochs: int = typer.Option(10, min=1, help="Maximum epochs (early stopping may end sooner)."),
    patience: int = typer.Option(
        2, min=1, help="Stop after this many epochs without a better validation --select."
    ),
    select: str = typer.Option(
        "auroc",
        help="Validation figure that picks the kept epoch: auroc, or high_recall_auroc "
        "(the ROC curve's part at recall >= 0.9 only).",
    ),
    schedule: str = typer.Option(
        "linear", help="Learning-rate decay after warmup: linear, cosine or constant."
    ),
    batch_size: int = typer.Option(32, min=1, help="Examples per optimizer step."),
    learning_rate: float = typer.Option(5e-5, "--lr", min=0.0, help="Peak learning rate."),
    max_length: int = typer.Option(160, min=16, help="Token limit per snippet pair."),
    weight_average: float = typer.Option(
        0.0,
        min=0.0,
        max=0.9999,
        help="Evaluate and keep an exponential moving average of the weights with this decay "
        "(0: off; the demo's 0.995 averages over about 200 steps).",
    ),
    focal_gamma: float = typer.Option(
        0.0, min=0.0, help="Focal loss: weigh each example by (1 - p_true)^gamma; 0 = plain."
    ),
    sift: bool = typer.Option(False, "--sift", help="Add the SiFT adversarial regularizer."),
    lat: bool = typer.Option(
        False,
        "--lat",
        help="Latent adversarial training: also train under the worst small "
        "perturbation of hidden states (about 1 + steps times slower).",
    ),
    lat_layers: str = typer.Option(
        None, help="Blocks whose outputs --lat perturbs, e.g. '2' or '1,3' (default: the middle)."
    ),
    lat_radius: float = typer.Option(
        None, min=0.0, help="--lat's per-token L2 radius, a fraction of the mean token norm (0.02)."
    ),
    lat_steps: int = typer.Option(None, min=1, help="--lat's ascent steps per batch (3)."),
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
    resume: bool = typer.Option(
        False, "--resume", help="Continue from the last epoch checkpoint in OUT.checkpoint/."
    ),
    config: str = typer.Option(
        None,
        "--config",
        help="Start from a loop config's [train] settings and data: a TOML file, or 'demo' "
        "for the demo's (its round 0); the options given here are put over them.",
    ),
) -> None:
    """Fine-tune a classifier on the train split, choose its threshold on valid, report test.

    Examples labeled 'unsure' are left out.

    Every epoch is checkpointed to OUT.checkpoint/, beside OUT, with the optimizer state;
    rerun with --resume after an interruption.  The checkpoint is deleted when training
    ends.  OUT then holds the model (Hugging Face format plus highstakes.json),
    history.json and metrics.json, and no optimizer state.

    The defaults are general ones.  --config demo trains the demo's round-0 classifier
    instead: the settings of its [train] section (swept on validation), its data and its
    seed.
    """
    # the settings are read from ctx.params (each option is named as TrainConfig's field),
    # so that with --config only the options given on the command line count
    with user_errors():
        cfg, config_data = _settings(ctx, config)
        use = data if config_data is None or given(ctx, "data") else config_data
        _run_training(use, out, cfg, resume)
