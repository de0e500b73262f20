"""`highstakes generate`: sample story continuations, optionally through the filter.

`--filter classifier` scores finished samples with a separate classifier (`--classifier
FOLDER`); `--filter head` scores each sample while it is generated with a head on the
generator's own states (`--head FOLDER`) and stops it once it crosses; `--filter both`
needs both to accept.  `--filter FOLDER`, the older form, still means a classifier.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from highstakes.cli.errors import user_errors
from highstakes.cli.progress import console


def generate_command(
    prompt: list[str] = typer.Option(..., "--prompt", help="The story so far; repeat for more."),
    filter_model: str = typer.Option(
        None,
        "--filter",
        help="head, classifier or both: return only completions they accept "
        "(a folder here means --filter classifier --classifier FOLDER).",
    ),
    head: Path = typer.Option(None, "--head", help="Head folder (`highstakes head train`)."),
    classifier: Path = typer.Option(None, "--classifier", help="Classifier folder."),
    threshold: float = typer.Option(
        None,
        min=0.0,
        max=1.0,
        help="Classifier: accept scores below this; default: the model's threshold.",
    ),
    head_threshold: float = typer.Option(
        None, min=0.0, max=1.0, help="Head: stop at this score; default: the head's threshold."
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
    and return the first the filter accepts, or --fallback after --tries samples; then
    report the rejection rate, samples per accepted completion and the filter's share of
    compute.  The head (--filter head or both) needs a local generator, the one it was
    trained on."""
    from highstakes.filtering.generators import load_generator

    with user_errors():
        if any(not p.strip() for p in prompt):
            raise ValueError("--prompt must not be empty")
        mode, head_dir, clf_dir = filter_plan(filter_model, head, classifier)
        prompts = [p for p in prompt for _ in range(n)]
        rows: list[dict[str, Any]]
        if mode in ("head", "both"):
            rows, report = _streamed(
                generator, head_dir, clf_dir, threshold, head_threshold,
                (tries, batch, fallback), prompts, seed,
            )  # fmt: skip
            _print(rows, report, as_json)
            return
        params = None if generator_params is None else int(generator_params)
        gen = load_generator(generator, model=generator_model, n_parameters=params)
        if clf_dir is None:
            samples = gen.sample(prompts, 1, seed)
            rows = [
                {"prompt": p, "completion": s[0]} for p, s in zip(prompts, samples, strict=True)
            ]
            _print(rows, None, as_json)
            return
        rows, report = _filtered(
            gen, str(clf_dir), threshold, tries, batch, fallback, prompts, seed
        )
    _print(rows, report, as_json)


FILTER_MODES = ("head", "classifier", "both")


def filter_plan(
    filter_value: str | None, head: Path | None, classifier: Path | None
) -> tuple[str | None, Path | None, Path | None]:
    """(mode, head folder, classifier folder) from the options; without --filter the mode
    follows from the folders given."""
    if filter_value is not None and filter_value not in FILTER_MODES:
        if not Path(filter_value).exists():
            raise ValueError(
                f"--filter must be head, classifier or both (or a classifier folder), got "
                f"{filter_value!r}"
            )
        if classifier is not None:
            raise ValueError("give the classifier once: --filter classifier --classifier FOLDER")
        filter_value, classifier = "classifier", Path(filter_value)
    if filter_value is None:
        filter_value = {
            (True, True): "both",
            (True, False): "head",
            (False, True): "classifier",
        }.get((head is not None, classifier is not None))
    if filter_value in ("head", "both") and head is None:
        raise ValueError(
            f"--filter {filter_value} needs --head FOLDER (train one with `highstakes head train`)"
        )
    if filter_value in ("classifier", "both") and classifier is None:
        raise ValueError(f"--filter {filter_value} needs --classifier FOLDER")
    if filter_value == "classifier" and head is not None:
        raise ValueError("--head is only read with --filter head or both")
    if filter_value == "head" and classifier is not None:
        raise ValueError("--classifier is only read with --filter classifier or both")
    return filter_value, head, classifier


def _streamed(
    generator: str,
    head_dir: Path | None,
    clf_dir: Path | None,
    threshold: float | None,
    head_threshold: float | None,
    tries_batch_fallback: tuple[int, int, str],
    prompts: list[str],
    seed: int,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The head scores every prefix while sampling; with a classifier, it also scores the
    samples the head let through."""
    if generator.startswith(("http://", "https://")):
        raise ValueError(
            "the head reads the generator's hidden states, so it needs a local generator "
            "(a model name or folder), not a server URL; use --filter classifier there"
        )
    from highstakes.filtering.head import ProbeHead
    from highstakes.filtering.local import ClassifierScorer
    from highstakes.filtering.streaming import StreamingSampler
    from highstakes.filtering.streaming_filter import StreamingFilter
    from highstakes.models.classifier import Classifier
    from highstakes.models.generator import CausalLM

    assert head_dir is not None
    probe = ProbeHead.load(head_dir, generator)  # before the LM: a wrong folder fails fast
    with console.status(f"loading {generator}"):
        lm = CausalLM.from_pretrained(generator)
    sampler = StreamingSampler(lm, probe, head_threshold)
    scorer = ClassifierScorer(Classifier.from_pretrained(clf_dir)) if clf_dir else None
    limit = None if scorer is None else (scorer.threshold if threshold is None else threshold)
    tries, batch, fallback = tries_batch_fallback
    filt = StreamingFilter(sampler, scorer, limit, tries, batch, fallback)
    with console.status(f"sampling with the head (threshold {sampler.threshold:.3g})"):
        result = filt.complete(prompts, seed=seed)
    rows = _rows(result.completions)
    report = {"threshold": limit, "head_threshold": sampler.threshold, "max_tries": tries}
    return rows, {**report, **result.as_dict()}


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
    rows = _rows(result.completions)
    return rows, {"threshold": limit, "max_tries": tries, **result.report.as_dict()}


def _rows(completions: Any) -> list[dict[str, Any]]:
    """One output row per prompt, for either filter's completions."""
    keys = ("prompt", "completion", "accepted", "score", "n_samples", "n_flagged")
    return [{k: getattr(c, k) for k in keys} for c in completions]


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
    limits = []
    if "head" in report:
        limits.append(f"head threshold {report['head_threshold']:.4g}")
    if report["threshold"] is not None:
        limits.append(f"classifier threshold {report['threshold']:.4g}")
    table = Table(title=f"filter: {', '.join(limits)}", show_header=False)
    frac = report["classifier_flops_fraction"]
    rows = [
        ("completions asked for", str(report["n_prompts"])),  # prompts x --n
        ("samples drawn", str(report["n_samples"])),
        ("rejection rate (first batch)", f"{report['rejection_rate']:.3f}"),
        ("samples per accepted completion", f"{report['samples_per_accepted']:.2f}"),
        ("fell back", f"{report['fallback_rate']:.3f}"),
        ("classifier/generator FLOPs", "unknown" if frac is None else f"{frac:.3f}"),
        ("classifier/generator wall time", f"{report['classifier_time_fraction']:.3f}"),
    ]
    if "head" in report:
        head_frac = report["head_flops_fraction"]
        rows[-2:-2] = [("rejected by the head", str(report["n_head_rejected"]))]
        rows += [
            ("head/generator FLOPs", "unknown" if head_frac is None else f"{head_frac:.2e}"),
            ("head/generator wall time", f"{report['head_time_fraction']:.3f}"),
        ]
        if report["threshold"] is None:  # no classifier ran
            rows = [r for r in rows if not r[0].startswith("classifier/")]
    for name, value in rows:
        table.add_row(name, value)
    return table
