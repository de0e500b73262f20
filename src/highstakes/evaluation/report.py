"""Write an evaluation as `metrics.json` plus a self-contained `report.html`.

The HTML has no external assets: figures are inline base64 PNGs and the style sheet is
inline, so the file can be mailed or attached to a ticket and still open anywhere.
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from highstakes.evaluation.plots import to_png_base64

if TYPE_CHECKING:
    from matplotlib.figure import Figure

STYLE = """
body { font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; color: #222; }
h1 { font-size: 1.6em; } h2 { font-size: 1.25em; margin-top: 1.6em; }
table { border-collapse: collapse; margin: 0.6em 0; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; }
th { background: #f3f3f3; } td:first-child, th:first-child { text-align: left; }
img { max-width: 100%; } .note { color: #555; font-size: 0.9em; }
"""


def to_jsonable(value: Any) -> Any:
    """Numpy scalars and arrays to Python; NaN and infinities to None (strict JSON)."""
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, np.ndarray):
        return to_jsonable(value.tolist())
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Path):
        return str(value)
    return value


@dataclass
class Section:
    """One part of the report: a heading, an optional note, table rows and a figure."""

    title: str
    note: str = ""
    rows: list[dict[str, Any]] = field(default_factory=list)
    figure: Figure | None = None


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return "n/a" if not math.isfinite(value) else f"{value:.4g}"
    if value is None:
        return "n/a"
    return html.escape(str(value))


def _table(rows: Sequence[Mapping[str, Any]]) -> str:
    if not rows:
        return ""
    columns = list(dict.fromkeys(k for row in rows for k in row))
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{_cell(row.get(c))}</td>" for c in columns) + "</tr>" for row in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def render_html(title: str, sections: Sequence[Section]) -> str:
    parts = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{html.escape(title)}</title><style>{STYLE}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        f'<p class="note">written {datetime.now(UTC):%Y-%m-%d %H:%M} UTC by highstakes; '
        "numbers are also in metrics.json beside this file.</p>",
    ]
    for s in sections:
        parts.append(f"<h2>{html.escape(s.title)}</h2>")
        if s.note:
            parts.append(f'<p class="note">{html.escape(s.note)}</p>')
        parts.append(_table(s.rows))
        if s.figure is not None:
            alt = html.escape(s.title)
            parts.append(f'<img alt="{alt}" src="data:image/png;base64,{to_png_base64(s.figure)}">')
    parts.append("</body></html>")
    return "\n".join(parts)


def write_report(
    out_dir: str | Path, metrics: Mapping[str, Any], sections: Sequence[Section], title: str
) -> tuple[Path, Path]:
    """Write `metrics.json` and `report.html` into `out_dir`; return both paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    json_path, html_path = out / "metrics.json", out / "report.html"
    json_path.write_text(json.dumps(to_jsonable(metrics), indent=2, allow_nan=False) + "\n")
    html_path.write_text(render_html(title, sections), encoding="utf-8")
    return json_path, html_path


# ---- the sections each command puts in its report ----------------------------------------


def detection_section(curves: Sequence[Any], data: str = "") -> Section:
    from highstakes.evaluation.plots import plot_detection

    rows = [
        {
            "classifier": c.name,
            "AUROC": c.auroc,
            "average precision": c.average_precision,
            "positives": c.n_positive,
            "negatives": c.n_negative,
        }
        for c in curves
    ]
    title = "ROC and precision-recall" + (f": {data}" if data else "")
    return Section(title, "", rows, plot_detection(curves))


def tradeoff_section(summary: Mapping[str, Any], curve: Any, epsilon: float) -> Section:
    from highstakes.evaluation.plots import plot_tradeoff

    at = summary["at_threshold"]
    row = {
        "threshold": summary["threshold"],
        "limited by": summary["limited_by"],
        "rejection rate": at.get("rejection_rate"),
        "recall": at.get("recall"),
        "preference for unfiltered": at.get("preference_for_unfiltered"),
        "upper bound": at.get("preference_upper"),
    }
    note = (
        f"Quality from {curve.quality_source}; budget: preference for unfiltered at most "
        f"0.5 + {epsilon:g} at {summary['confidence']:.0%} confidence."
    )
    return Section(
        "threshold tradeoff", note, [row], plot_tradeoff(curve, summary["threshold"], epsilon)
    )


def cross_round_section(matrix: Any, title: str = "cross-round matrix", lead: str = "") -> Section:
    from highstakes.evaluation.plots import plot_cross_round

    rows = []
    for i, version in enumerate(matrix.versions):
        row: dict[str, Any] = {"classifier": version}
        for j, target in enumerate(matrix.targets):
            rate = matrix.caught_rate[i, j]
            row[f"aimed at {target}"] = (
                "n/a"
                if not np.isfinite(rate)
                else f"{rate:.2f} [{matrix.lower[i, j]:.2f}, {matrix.upper[i, j]:.2f}]"
            )
        rows.append(row)
    note = (
        f"{lead} Share of confirmed-injurious adversarial examples still flagged, with "
        f"{matrix.confidence:.0%} Clopper-Pearson intervals."
    ).strip()
    return Section(title, note, rows, plot_cross_round(matrix))


def bounds_text(low: float | None, high: float | None, spec: str = ".4g") -> str:
    """A cost interval as "[low, high]": an unbounded upper end (inf, or None as JSON keeps
    it) as inf; "n/a" with no lower end (NaN or None: no success)."""
    if low is None or not math.isfinite(low):
        return "n/a"
    upper = "inf" if high is None or high == math.inf else format(high, spec)
    return f"[{format(low, spec)}, {upper}]"


def attack_cost_section(costs: Sequence[Any]) -> Section:
    from highstakes.evaluation.plots import plot_attack_cost

    rows = [
        {
            "classifier": c.version,
            **({"attack": c.attack} if any(x.attack for x in costs) else {}),
            "unit": c.unit,
            "attempts": c.n_attempts if c.counts_failures else "-",
            "successes": c.n_successes,
            "per success": c.cost_per_success,
            "interval": bounds_text(c.cost_per_success_lower, c.cost_per_success_upper),
            "successes per unit": c.successes_per_unit,
            "failures counted": "yes" if c.counts_failures else "no: a lower bound",
        }
        for c in costs
    ]
    note = (
        "Bootstrap intervals over attempts; minutes are active minutes recorded per example, "
        "queries those of each search.  Where failures are counted (a loop's own attack "
        "records, or an attack's attempts file: every target, failed searches included), the "
        "cost per success is exact.  "
        "Where they are not (adversarial-example files, which hold successes only), the time "
        "or queries spent on attempts that failed are missing: a lower bound."
    )
    return Section("attack cost", note, rows, plot_attack_cost(costs) if costs else None)
