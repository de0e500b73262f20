"""`highstakes score`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from highstakes.cli.errors import user_errors
from highstakes.cli.progress import batch_counter, console, progress_bar

if TYPE_CHECKING:  # numpy is imported by the commands that score, not by `--help`
    import numpy as np


# Up to this many snippets are scored by the light scorer (models/light.py: ONNX Runtime,
# no torch import, 1-2 s a run instead of 5 s or more); more go to the batched torch path,
# whose bf16 fast path and length buckets pay for its load.
LIGHT_MAX_SNIPPETS = 32


def score_command(
    model: str = typer.Option(..., "--model", help="Trained model folder (or any HF classifier)."),
    prompt: str = typer.Option(None, "--prompt", help="The story so far (three sentences)."),
    completion: str = typer.Option(None, "--completion", help="The sentence to judge."),
    file: Path = typer.Option(None, "--file", help="Score every row of a data file instead."),
    out: Path = typer.Option(None, "--out", help="With --file: write JSONL rows with scores."),
    batch_size: int = typer.Option(64, min=1, help="Snippets per forward pass."),
    fp32: bool = typer.Option(
        False,
        "--fp32",
        help=f"With --file of more than {LIGHT_MAX_SNIPPETS} rows: score every snippet in "
        "fp32.  By default the fast path (bf16 where the CPU has it) is used and snippets "
        "near the threshold are rescored in fp32, so the flags are fp32's and scores differ "
        "by its small error.  Fewer rows go to the light scorer, which is fp32.",
    ),
    light: bool = typer.Option(
        True,
        "--light/--no-light",
        help=f"Score up to {LIGHT_MAX_SNIPPETS} snippets of a trained model folder with the "
        "light scorer (ONNX Runtime fp32, without loading torch; exported once, on first "
        "use, beside the model or under $HIGHSTAKES_CACHE); snippets near the threshold "
        "are rescored by torch, so the flags are torch fp32's.  --no-light always loads "
        "the torch classifier.",
    ),
) -> None:
    """Print the probability that a completion is injurious (the positive class).

    Give --prompt and --completion for one snippet, or --file for many (rows need prompt and
    completion; a label is not needed).  One snippet takes 1-2 s with the light scorer
    (after a one-time export of 10-20 s on its first use with a model) and 5 s or more
    through torch (two CPU cores).
    """
    with user_errors():
        if file is None and (prompt is None or completion is None):
            raise ValueError("give --prompt and --completion, or --file")
        if file is not None and (prompt or completion):
            raise ValueError("give either --prompt/--completion or --file, not both")
        if prompt is not None and (not prompt.strip() or not completion.strip()):
            raise ValueError("--prompt and --completion must not be empty")
        # rows before the slow load, so a bad file fails fast
        rows = _read_snippet_rows(file) if file is not None else []
        pairs = [(r["prompt"], r["completion"]) for r in rows] or [(prompt, completion)]
        scored = None
        if light and len(pairs) <= LIGHT_MAX_SNIPPETS:
            from highstakes.models.light import light_scores

            scored = light_scores(model, pairs, on_export=_announce_export)
        if scored is None:
            scored = _torch_scores(model, pairs, batch_size, fp32)
    scores, threshold = scored
    if file is None:
        _print_one(float(scores[0]), threshold)
        return
    lines = [
        json.dumps({**r, "score": float(s), "flagged": bool(s >= threshold)}, ensure_ascii=False)
        for r, s in zip(rows, scores, strict=True)
    ]
    if out:
        out.write_text("\n".join(lines) + "\n", encoding="utf-8")
        console.print(f"wrote {len(lines)} scored rows to {out}")
    else:
        typer.echo("\n".join(lines))


def _torch_scores(
    model: str, pairs: list[tuple[str, str]], batch_size: int, fp32: bool
) -> tuple[np.ndarray, float]:
    """The Classifier's scores: fp32 (always for one snippet), or its fast path with fp32's
    decisions."""
    from highstakes.data.records import Snippet
    from highstakes.models.classifier import Classifier

    clf = Classifier.from_pretrained(model)
    snippets = [Snippet(p, c) for p, c in pairs]
    if len(snippets) == 1:
        return clf.score(snippets), clf.threshold
    with progress_bar() as update:
        on_batch = batch_counter(update, "scoring", len(snippets))
        if fp32:
            return clf.score(snippets, batch_size=batch_size, on_batch=on_batch), clf.threshold
        return clf.score_decisive(snippets, batch_size, on_batch=on_batch)[0], clf.threshold


def _announce_export() -> None:
    console.print(
        "preparing the light scorer for this model (once: an ONNX export, 10-20 s; "
        "later runs start in about 1 s)"
    )


def _print_one(probability: float, threshold: float) -> None:
    flagged = "flagged" if probability >= threshold else "accepted"
    typer.echo(f"{probability:.6f}\t{flagged} (threshold {threshold:.4g})")


def _read_snippet_rows(path: Path) -> list[dict[str, Any]]:
    """Rows with prompt and completion; labels are optional when scoring."""
    from highstakes.data.io import DataError, Problem
    from highstakes.data.jsonl import iter_jsonl

    if not path.exists():
        raise FileNotFoundError(f"no such file: {path}")
    rows: list[dict[str, Any]] = []
    problems: list[Problem] = []
    for number, row in iter_jsonl(path, on_error=lambda e: problems.append(Problem.of_line(e))):
        for field in ("prompt", "completion"):
            if not isinstance(row.get(field), str) or not row[field].strip():
                problems.append(Problem(path.name, number, field, "missing or empty"))
        rows.append(row)
    if problems:
        raise DataError(problems)
    return rows
