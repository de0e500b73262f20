"""The loop's report: report.json (one entry per round), a terminal table and an HTML
page with the cross-round matrix."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from highstakes.data.io import read_examples
from highstakes.data.records import Snippet
from highstakes.files import write_atomic
from highstakes.loop.config import LoopConfig

LABELER_WARNING = {
    "kept": (
        "Attack results were labeled by 'kept': each result keeps the label of the snippet "
        "it was made from.  The loop allows it only for recipes whose edits keep the label "
        "by construction (typos, rewording); how often that holds was measured by reading "
        "results under the labeling guide (docs/audits/, figures in the README)."
    ),
    "reference": "Attack results were labeled by a reference classifier, not by people.",
    "llm-judge": "Attack results were labeled by a language-model judge, not by people.",
}


def warning_for(labeler: str) -> str | None:
    return None if labeler == "studio" else LABELER_WARNING.get(labeler.split(":")[0])


class ExternalAttack(NamedTuple):
    """An attack on external-set targets (`external_targets`), measurement only."""

    run: str  # the loop's run name, and `attack-<run>.jsonl`
    recipe: str  # which of the loop's recipes it runs: "attack" or "heldout"
    key: str  # the round's key in the loop's records and report.json
    column: str  # its column in the HTML report
    short: str  # and in the terminal's table


EXTERNAL_ATTACKS = (
    ExternalAttack(
        "external", "attack", "external_attack", "attack success (external)", "ext attack"
    ),
    ExternalAttack(
        "heldout-external",
        "heldout",
        "heldout_external_attack",
        "held-out success (external)",
        "ext held-out",
    ),
)


def round_entries(rounds: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for r in rounds:
        ev, ext = r["evaluation"], r["evaluation"].get("external")
        entry = {
            "round": r["round"],
            "auroc": ev["auroc"],
            "recall": ev["recall"],
            "false_positive_rate": ev["false_positive_rate"],
            "threshold": ev["threshold"],
            "attack_targets": r["attack"]["targets"],
            "attack_success_rate": r["attack"]["success_rate"],
            "attack_success_interval": r["attack"]["success_rate_interval"],
            "queries_per_success": r["attack"]["queries_per_success"],
            # rounds summarized before the interval was kept have none
            "queries_per_success_interval": r["attack"].get("queries_per_success_interval"),
            "heldout_attack_targets": r["heldout_attack"]["targets"],
            "heldout_attack_success_rate": r["heldout_attack"]["success_rate"],
            "heldout_attack_success_interval": r["heldout_attack"]["success_rate_interval"],
        }
        if ext:
            entry |= {f"external_{k}": ext[k] for k in ("auroc", "recall", "false_positive_rate")}
        for key in (a.key for a in EXTERNAL_ATTACKS):
            if key in r:
                entry |= {
                    f"{key}_targets": r[key]["targets"],
                    f"{key}_success_rate": r[key]["success_rate"],
                    f"{key}_success_interval": r[key]["success_rate_interval"],
                }
        head = r.get("head") or {}  # [head] enabled: its figures under the streaming rule
        for where in ("test", "external"):
            if where in head:
                names = ("auroc", "recall", "false_positive_rate")
                entry |= {f"head_{where}_{k}": head[where][k] for k in names}
        out.append(entry)
    return out


def external_warnings(rounds: list[dict[str, Any]]) -> list[str]:
    """The rounds whose saved threshold misses its recall on the external set."""
    return [
        f"v{r['round']}: {r['evaluation']['external']['warning']}"
        for r in rounds
        if r["evaluation"].get("external", {}).get("warning")
    ]


def _figure(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def learning_curves(rounds: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per epoch of every version's training: the curve behind each model."""
    rows = []
    for r in rounds:
        training = r.get("training") or {}
        for h in training.get("history", []):
            rows.append(
                {
                    "version": f"v{r['round']}",
                    "epoch": h["epoch"],
                    "kept": "best" if h["epoch"] == training.get("best_epoch") else "",
                    "train loss": f"{h['train_loss']:.4f}",
                    "valid AUROC": f"{h['valid_auroc']:.4f}",
                    # the part of the curve at recall >= 0.9 (older histories lack it)
                    "valid AUROC, recall >= 0.9": _figure(h.get("valid_high_recall_auroc")),
                    "valid recall": f"{h['valid_recall']:.3f}",
                    "valid FPR": f"{h['valid_false_positive_rate']:.3f}",
                    "seconds": f"{h['seconds']:.0f}",
                }
            )
    return rows


def cross_round(config: LoopConfig, loop: Any) -> dict[str, Any]:
    """Two matrices: the examples that were trained on (the training attack's) and those
    that only measure (the evaluation and held-out attacks'), each scored by every
    version.  Mixing them would credit a version for catching its own training data."""
    from highstakes.evaluation.robustness import ClassifierVersion, cross_round_matrix

    versions = []
    trained: dict[str, Sequence[Snippet]] = {}
    measured: dict[str, Sequence[Snippet]] = {}
    for r in range(config.rounds + 1):
        clf = loop.classifier(r)
        versions.append(ClassifierVersion(loop.version(r), clf.score, clf.threshold))
        path = loop.project.round_dir(r) / "aimed.jsonl"
        examples = read_examples(path) if path.exists() else []
        positive = [e for e in examples if e.label.value == "yes"]
        trained[loop.version(r)] = [e.snippet for e in positive if trained_on(e)]
        measured[loop.version(r)] = [e.snippet for e in positive if not trained_on(e)]
    return {
        "trained on": cross_round_matrix(versions, trained),
        "evaluation only": cross_round_matrix(versions, measured),
    }


def trained_on(example: Any) -> bool:
    """Whether a result aimed at a version came from its training attack, whose results
    the next round trains on (untagged ones are taken to)."""
    return str(example.tags.get("run", "train")) == "train"


def threshold_note(rounds: list[dict[str, Any]]) -> str:
    """How each version's threshold was chosen, in words (rounds with the same rule once)."""
    rules: dict[str, list[int]] = {}
    for r in rounds:
        rule = r.get("calibration", {}).get("rule")
        if rule:
            rules.setdefault(rule, []).append(r["round"])
    parts = [f"v{', v'.join(map(str, rs))}: {rule}" for rule, rs in rules.items()]
    return f"Thresholds, chosen on the validation split ({'; '.join(parts)})." if parts else ""


def write(config: LoopConfig, loop: Any, rounds: list[dict[str, Any]]) -> dict[str, Path]:
    import json

    from highstakes.evaluation.report import Section, cross_round_section, render_html, to_jsonable

    root = Path(config.project)
    entries = round_entries(rounds)
    write_atomic(root / "report.json", json.dumps(to_jsonable(entries), indent=2) + "\n")
    matrices = cross_round(config, loop)
    details = {
        "labeler": config.label.labeler,
        "rounds": rounds,
        "cross_round": {name: m.as_dict() for name, m in matrices.items()},
    }
    write_atomic(root / "details.json", json.dumps(to_jsonable(details), indent=2) + "\n")
    warning = warning_for(config.label.labeler) or ""
    rows = [_row(r) for r in rounds]
    note = " ".join(
        part for part in (f"Labeler: {config.label.labeler}.", warning, threshold_note(rounds))
        if part
    )  # fmt: skip
    if config.external:
        note += (
            f" External set: {config.external}, written apart from the training data and "
            "never trained or tuned on. " + " ".join(external_warnings(rounds))
        )
    sections = [
        Section("rounds", note, rows),
        Section(
            "learning curves",
            "Per epoch of each version's training, on the validation split; the kept epoch "
            "is the one with the best validation AUROC, and its threshold is saved.",
            learning_curves(rounds),
        ),
        cross_round_section(
            matrices["evaluation only"],
            "cross-round matrix: evaluation only",
            "Results of the evaluation and held-out attacks, never trained on.",
        ),
        cross_round_section(
            matrices["trained on"],
            "cross-round matrix: trained on",
            "Results of the training attack: later versions were trained on these, so "
            "catching them shows memory, not robustness.",
        ),
    ]
    html = render_html("highstakes loop report", sections)
    write_atomic(root / "report.html", html)
    return {
        "json": root / "report.json",
        "html": root / "report.html",
        "details": root / "details.json",
    }


def _fmt_interval(value: float | None, interval: Any) -> str:
    if value is None:
        return "n/a"
    return f"{value:.3f} [{interval[0]:.3f}, {interval[1]:.3f}]"


def _row(r: dict[str, Any]) -> dict[str, Any]:
    ev, at, held = r["evaluation"], r["attack"], r["heldout_attack"]
    qps = at["queries_per_success"]
    row = {
        "round": r["round"],
        "AUROC (test)": _fmt_interval(ev["auroc"], ev["auroc_interval"]),
        "recall": _fmt_interval(ev["recall"], ev["recall_interval"]),
        "FPR": _fmt_interval(ev["false_positive_rate"], ev["false_positive_rate_interval"]),
    }
    ext = ev.get("external")
    if ext:
        row |= {
            "AUROC (external)": _fmt_interval(ext["auroc"], ext["auroc_interval"]),
            "recall (external)": _fmt_interval(ext["recall"], ext["recall_interval"]),
            "FPR (external)": _fmt_interval(
                ext["false_positive_rate"], ext["false_positive_rate_interval"]
            ),
        }
    return row | {
        "threshold": f"{ev['threshold']:.4g}",
        "attack success": _success(at, _fmt_interval),
        "queries/success": _queries(qps, at.get("queries_per_success_interval")),
        "held-out success": _success(held, _fmt_interval),
        **{a.column: _success(r[a.key], _fmt_interval) for a in EXTERNAL_ATTACKS if a.key in r},
        "adversarial added": r["n_adversarial_added"],
    }


def _queries(value: float | None, interval: Any) -> str:
    from highstakes.evaluation.report import bounds_text

    if value is None:
        return "n/a"
    if interval is None:  # summarized before intervals were kept
        return f"{value:.0f}"
    low, high = interval
    return f"{value:.0f} {bounds_text(low, high, '.0f')}"


def table_rows(rounds: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Narrow rows for a terminal (intervals are in report.html and details.json)."""
    out = []
    for r in rounds:
        ev, at, held = r["evaluation"], r["attack"], r["heldout_attack"]
        low, high = ev["auroc_interval"]
        qps = at["queries_per_success"]
        ext = ev.get("external")
        external = (
            {
                "ext AUROC": f"{ext['auroc']:.3f}",
                "ext recall": f"{ext['recall']:.3f}",
                "ext FPR": f"{ext['false_positive_rate']:.3f}",
            }
            if ext
            else {}
        )
        out.append(
            {
                "round": r["round"],
                "AUROC (95% CI)": f"{ev['auroc']:.3f} {low:.2f}-{high:.2f}",
                "recall": f"{ev['recall']:.3f}",
                "FPR": f"{ev['false_positive_rate']:.3f}",
                **external,
                "attack": _success(at, _short_rate),
                "q/success": "-" if qps is None else f"{qps:.0f}",
                "held-out": _success(held, _short_rate),
                **{
                    a.short: _success(r[a.key], _short_rate) for a in EXTERNAL_ATTACKS if a.key in r
                },
            }
        )
    return out


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def _short_rate(value: float | None, interval: Any) -> str:
    return _rate(value)  # the terminal's narrow table leaves the interval out


def _success(summary: dict[str, Any], rate: Callable[[float | None, Any], str]) -> str:
    """An attack summary's "succeeded/targets rate", the rate written by `rate`."""
    return f"{summary['succeeded']}/{summary['targets']} " + rate(
        summary["success_rate"], summary["success_rate_interval"]
    )
