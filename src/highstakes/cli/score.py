"""`highstakes score`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from highstakes.cli.errors import user_errors
from highstakes.cli.progress import console, progress_bar


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
        help="With --file: score every snippet in fp32.  By default the fast path (bf16 where "
        "the CPU has it) is used and snippets near the threshold are rescored "
        "in fp32, so the flags are fp32's and scores differ by its small error.",
    ),
) -> None:
    """Print the probability that a completion is injurious (the positive class).

    Give --prompt and --completion for one snippet, or --file for many (rows need prompt and
    completion; a label is not needed).
    """
    with user_errors():
        if file is None and (prompt is None or completion is None):
            raise ValueError("give --prompt and --completion, or --file")
        if file is not None and (prompt or completion):
            raise ValueError("give either --prompt/--completion or --file, not both")
        if prompt is not None and (not prompt.strip() or not completion.strip()):
            raise ValueError("--prompt and --completion must not be empty")
        rows = _read_snippet_rows(file) if file is not None else []  # before the slow load
        from highstakes.data.records import Snippet
        from highstakes.models.classifier import Classifier

        clf = Classifier.from_pretrained(model)
        if file is None:
            _print_one(clf.score_one(prompt, completion), clf.threshold)
            return
        snippets = [Snippet(r["prompt"], r["completion"]) for r in rows]
        with progress_bar() as update:
            done = 0

            def on_batch(n: int) -> None:
                nonlocal done
                done += n
                update("scoring", done, len(snippets))

            if fp32:
                scores = clf.score(snippets, batch_size=batch_size, on_batch=on_batch)
            else:
                scores, _ = clf.score_decisive(snippets, batch_size, on_batch=on_batch)
    lines = [
        json.dumps(
            {**r, "score": float(s), "flagged": bool(s >= clf.threshold)}, ensure_ascii=False
        )
        for r, s in zip(rows, scores, strict=True)
    ]
    if out:
        out.write_text("\n".join(lines) + "\n", encoding="utf-8")
        console.print(f"wrote {len(lines)} scored rows to {out}")
    else:
        typer.echo("\n".join(lines))


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
