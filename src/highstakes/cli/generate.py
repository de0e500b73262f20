"""`highstakes generate`: sample story continuations, optionally through the filter."""

from __future__ import annotations

import json
from typing import Any

import typer
from rich.table import Table

from highstakes.cli.errors import user_errors
from highstakes.cli.progress import console


def generate_command(
    prompt: list[str] = typer.Option(..., "--prompt", help="The story so far; repeat for more."),
    filter_model: str = typer.Option(
        None, "--filter", help="Classifier folder: return only completions it accepts."
    ),
    threshold: float = typer.Option(
        None, min=0.0, max=1.0, help="Accept scores below this; default: the model's threshold."
    ),
    tries: int = typer.Option(16, "--tries", min=1, help="Samples per prompt before falling back."),
    batch: int = typer.Option(4, "--batch", min=1, help="Samples drawn per prompt at a time."),
    fallback: str = typer.Option("", help="Text returned when every try is rejected."),
    n: int = typer.Option(1, "--n", min=1, help="Completions to return per prompt."),
    generator: str = typer.Option(
        "embedded-smollm2", help="Causal LM name or folder, or the URL of a vLLM-style server."
    ),
    generator_model: str = typer.Option(
        None, help="Model name at the server (default: the first it lists)."
    ),
    generator_params: float = typer.Option(
        None, help="The served model's parameter count, for FLOP estimates (e.g. 7e9)."
    ),
    seed: int = typer.Option(0, help="Seed for sampling; the same seed repeats the output."),
    as_json: bool = typer.Option(False, "--json", help="Print completions and costs as JSON."),
) -> None:
    """Write the next sentence of each story.  With --filter, draw --batch samples at a time
    and return the first the classifier accepts, or --fallback after --tries samples;
    then report the rejection rate, samples per accepted completion and the classifier's
    share of compute."""
    from highstakes.filtering.generators import load_generator

    with user_errors():
        if any(not p.strip() for p in prompt):
            raise ValueError("--prompt must not be empty")
        params = None if generator_params is None else int(generator_params)
        gen = load_generator(generator, model=generator_model, n_parameters=params)
        prompts = [p for p in prompt for _ in range(n)]
        if filter_model is None:
            samples = gen.sample(prompts, 1, seed)
            rows: list[dict[str, Any]] = [
                {"prompt": p, "completion": s[0]} for p, s in zip(prompts, samples, strict=True)
            ]
            _print(rows, None, as_json)
            return
        rows, report = _filtered(
            gen, filter_model, threshold, tries, batch, fallback, prompts, seed
        )
    _print(rows, report, as_json)


def _filtered(
    gen: Any,
    model: str,
    threshold: float | None,
    tries: int,
    batch: int,
    fallback: str,
    prompts: list[str],
    seed: int,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    from highstakes.filtering.filter import RejectionFilter
    from highstakes.filtering.local import ClassifierScorer
    from highstakes.models.classifier import Classifier

    scorer = ClassifierScorer(Classifier.from_pretrained(model))
    limit = scorer.threshold if threshold is None else threshold
    filt = RejectionFilter(gen, scorer, limit, max_tries=tries, batch_size=batch, fallback=fallback)
    with console.status(f"sampling and filtering (threshold {limit:.3g})"):
        result = filt.complete(prompts, seed=seed)
    rows = [
        {
            "prompt": c.prompt,
            "completion": c.completion,
            "accepted": c.accepted,
            "score": c.score,
            "n_samples": c.n_samples,
            "n_flagged": c.n_flagged,
        }
        for c in result.completions
    ]
    return rows, {"threshold": limit, "max_tries": tries, **result.report.as_dict()}


def _print(rows: list[dict[str, Any]], report: dict[str, Any] | None, as_json: bool) -> None:
    if as_json:
        from highstakes.evaluation.report import to_jsonable

        payload = {"completions": rows, "report": report}
        typer.echo(json.dumps(to_jsonable(payload), indent=2, ensure_ascii=False))
        return
    for row in rows:
        if not row.get("accepted", True):
            typer.echo(f"{row['completion']}  [fallback]".lstrip())
        else:
            typer.echo(row["completion"] or "(no whole sentence)")
    if report is not None:
        console.print(_report_table(report))


def _report_table(report: dict[str, Any]) -> Table:
    table = Table(title=f"filter at threshold {report['threshold']:.4g}", show_header=False)
    frac = report["classifier_flops_fraction"]
    for name, value in (
        ("prompts", str(report["n_prompts"])),
        ("samples drawn", str(report["n_samples"])),
        ("rejection rate (first batch)", f"{report['rejection_rate']:.3f}"),
        ("samples per accepted completion", f"{report['samples_per_accepted']:.2f}"),
        ("fell back", f"{report['fallback_rate']:.3f}"),
        ("classifier/generator FLOPs", "unknown" if frac is None else f"{frac:.3f}"),
        ("classifier/generator wall time", f"{report['classifier_time_fraction']:.3f}"),
    ):
        table.add_row(name, value)
    return table
