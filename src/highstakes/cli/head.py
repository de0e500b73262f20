"""`highstakes head train`: a classifier head on the generator's own hidden states."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from highstakes.cli.errors import user_errors
from highstakes.cli.progress import console, progress_bar

app = typer.Typer(help="A filter head that reads the generator's own hidden states.")


@app.command("train")
def train_command(
    out: Path = typer.Option(..., "--out", help="Folder to save the head in."),
    data: str = typer.Option("demo", help="Labeled data: demo, or a JSONL/CSV/Parquet file."),
    generator: str = typer.Option(
        "embedded-smollm2", help="The causal LM whose states the head reads: name or folder."
    ),
    layers: str = typer.Option(
        "12,18,24", help="Blocks whose outputs are read, comma-separated (1 = the first)."
    ),
    pooling: str = typer.Option(
        "mean+max",
        help="How each block's states are pooled over the completion: mean or "
        "mean+max (a running mean and a running elementwise maximum).",
    ),
    max_train: int = typer.Option(
        0, min=0, help="Training snippets to use (0: all; features cost ~0.15 s each on a CPU)."
    ),
    min_tokens: int = typer.Option(4, min=1, help="Shortest prefix scored while streaming."),
    c: float = typer.Option(0.001, min=0.0, help="Inverse L2 strength of the regression."),
    target_recall: float = typer.Option(
        0.95, min=0.0, max=1.0, help="Validation recall the threshold is chosen for."
    ),
    recall_confidence: float = typer.Option(
        None, min=0.5, max=1.0, help="Choose for a lower confidence bound on recall instead."
    ),
    seed: int = typer.Option(0, help="Seed for the training subset and the regression."),
    device: str = typer.Option(None, help="cpu, cuda, ... (default: cuda when available)."),
) -> None:
    """Train a linear probe on the generator's hidden states over the data's train split
    and pick its threshold on the valid split under the streaming rule (a sample is
    rejected as soon as any prefix crosses).  Use it with `highstakes generate --filter
    head --head OUT`."""
    from highstakes.data.demo import load_dataset
    from highstakes.data.splits import assign_splits
    from highstakes.filtering.features import FeatureExtractor
    from highstakes.filtering.head import HeadConfig, train_head
    from highstakes.models.generator import CausalLM

    with user_errors():
        config = HeadConfig(
            model=generator, layers=_blocks(layers), pooling=pooling, max_train=max_train,
            min_tokens=min_tokens, c=c,
        )  # fmt: skip
        config.check()
        splits = assign_splits(load_dataset(data))
        if not splits["train"] or not splits["valid"]:
            raise ValueError(f"{data}: needs examples in both the train and valid splits")
        with console.status(f"loading {generator}"):
            lm = CausalLM.from_pretrained(generator, device=device)
        with progress_bar() as update:
            head, valid = train_head(
                FeatureExtractor(lm, generator, batch_size=config.batch_size),
                config,
                splits["train"],
                splits["valid"],
                target_recall,
                recall_confidence,
                seed,
                update,
            )
        head.save(out)
    summary = {
        "out": str(out),
        "layers": head.layers,
        "pooling": head.pooling,
        "threshold": head.threshold_,
        "n_train": head.metadata_["n_train"],
        **{
            f"valid_{k}": valid[k]
            for k in ("auroc", "auroc_final_mean", "recall", "false_positive_rate")
        },
    }
    typer.echo(json.dumps(summary, indent=2))


def _blocks(text: str) -> list[int]:
    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise ValueError(
            f"--layers takes block numbers separated by commas, like '12,18,24'; got {text!r}"
        ) from None
