"""Read audits of attack recipes whose results the loop labels with `kept`.

`kept` labels each attack result with its source's label without anyone reading it; it is
only allowed for recipes that keep the label by construction, and this is how that claim
is checked.  Two steps:

    python scripts/audit.py sample runs/demo typos --n 60 --out docs/audits/typos.jsonl
        draws `n` successful results of the recipe from a loop run (all rounds, the
        training, evaluation and held-out attacks), seeded, one JSON row each with the
        original, the result and the edits; `label` and `reader` are left empty for the
        person (or model) who reads them under the labeling guide.

    python scripts/audit.py attack runs/demo rewording --round 2 --out extra-r2.jsonl
        when a demo run holds too few results of a recipe (a held-out recipe that rarely
        succeeds), runs the same recipe, with the loop's settings, against a version of
        that run on injurious *validation* snippets (never attacked by the loop; trained
        versions resist attacks on their own training snippets), in the loop's record
        format; `sample --extra extra.jsonl` then draws from both, and each row says
        where it came from.

    python scripts/audit.py score [docs/audits/*.jsonl]
        recomputes, from the rows as read, the share still injurious (`label` "yes";
        "unsure" and "no" count against the recipe) with a 95% Wilson interval, and says
        whether the recipe may be used with `kept` (at least 60 read rows, >= 90%).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path
from typing import Any

from highstakes.data.jsonl import read_jsonl
from highstakes.evaluation.reliability import wilson
from highstakes.loop.project import Project

MIN_ROWS = 60
MIN_SHARE = 0.90
RUNS = ("train", "eval", "heldout")


def _sources(project: Path) -> dict[str, Any]:
    """Every snippet the run's data and external set hold, by id."""
    from highstakes.data.demo import load_dataset

    config = json.loads((project / "config.json").read_text())
    names = [n for n in (config["data"], config.get("external")) if n]
    return {e.id: e.snippet for name in names for e in load_dataset(name)}


def _rows(records: list[dict], sources: dict, recipe: str, round_: int, run: str) -> list[dict]:
    """One row to read per result found (the best and any kept next-best ones)."""
    out = []
    for record in records:
        source = sources[record["target_id"]]
        for found in [record["found"], *record.get("more", [])] if record["found"] else []:
            out.append(
                {
                    "recipe": recipe,
                    "round": round_,
                    "run": run,
                    "target_id": record["target_id"],
                    "original_prompt": source.prompt,
                    "original_completion": source.completion,
                    "prompt": found["prompt"],
                    "completion": found["completion"],
                    "edits": found["edits"],
                    "label": None,
                    "reader": None,
                }
            )
    return out


def successes(project: Path, recipe: str) -> list[dict]:
    """Every result the recipe found under the threshold, across rounds and runs."""
    sources, out, folder = _sources(project), [], Project(project)
    for round_ in folder.rounds():  # in round order (round-10 after round-9)
        done = folder.done(round_, "attack")
        if done is None:
            continue
        for run in RUNS:
            path = folder.round_dir(round_) / f"attack-{run}.jsonl"
            if done["recipes"].get(run) == recipe and path.exists():
                out += _rows(_attack_log(path), sources, recipe, round_, run)
    return out


def extra_successes(path: Path, recipe: str, project: Path) -> list[dict]:
    """Results in an `attack` file (run: "audit (<file>)", round from the file name)."""
    round_ = int(path.stem.rsplit("-r", 1)[1]) if "-r" in path.stem else -1
    return _rows(_attack_log(path), _sources(project), recipe, round_, f"audit ({path.stem})")


def _attack_log(path: Path) -> list[dict[str, Any]]:
    """An attack's results as `run_attack` appends them (a cut last line is dropped)."""
    return read_jsonl(path, missing_ok=True, torn_tail_ok=True)


def attack(args: argparse.Namespace) -> None:
    """The recipe, with the loop's settings, against round `args.round`'s version, on
    injurious snippets of a split (one record per target, as the loop writes them)."""
    from highstakes.data.demo import load_dataset
    from highstakes.data.splits import assign_splits
    from highstakes.loop.config import load_config, parse_config
    from highstakes.loop.stages import build_attack, pick_targets, run_attack
    from highstakes.models.classifier import Classifier

    project = Path(args.project)
    values = json.loads((project / "config.json").read_text())
    config = parse_config(values) if not args.config else load_config(args.config)
    spec = next(s for s in (config.attack, config.heldout) if s and s.recipe == args.recipe)
    if args.split == "external":  # read for the audit only; no version is tuned on it
        if config.external is None:
            raise SystemExit(f"{project}: the loop's config names no external set to attack")
        pool = load_dataset(config.external)
    else:
        pool = assign_splits(load_dataset(config.data))[args.split]
    clf = Classifier.from_pretrained(project / f"round-{args.round}" / "model")
    targets = pick_targets(pool, args.n, config.seed, "audit", args.recipe)
    run_attack(build_attack(spec, clf, {}), clf, targets, spec.budget, Path(args.out), "audit")
    print(
        f"{args.recipe} against v{args.round} on {len(targets)} {args.split} snippets -> {args.out}"
    )


def sample(args: argparse.Namespace) -> None:
    found = successes(Path(args.project), args.recipe)
    for extra in args.extra:
        found += extra_successes(Path(extra), args.recipe, Path(args.project))
    if len(found) < args.n:
        sys.exit(f"{args.project}: only {len(found)} successful {args.recipe} results")
    rows = random.Random(args.seed).sample(found, args.n)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    print(f"{len(rows)} of {len(found)} {args.recipe} results -> {out}")


def recipe_audits(folder: Path) -> list[Path]:
    """The folder's audits of recipes (rows with a `recipe`), not its other reads (the
    menu's grammar, `menu-fluency.jsonl`)."""
    return [p for p in sorted(folder.glob("*.jsonl")) if "recipe" in next(iter(read_jsonl(p)), {})]


def score(paths: list[Path]) -> bool:
    """Print each audit's figures; False if any recipe fails the bar."""
    ok = True
    for path in paths:
        rows = read_jsonl(path)  # filled in by hand: a bad line is an error to fix
        unread = [
            r for r in rows if r.get("label") not in ("yes", "no", "unsure") or not r.get("reader")
        ]
        read = [r for r in rows if r not in unread]
        yes = sum(r["label"] == "yes" for r in read)
        counts = {lab: sum(r["label"] == lab for r in read) for lab in ("yes", "no", "unsure")}
        if not read:
            print(f"{path}: no read rows")
            ok = False
            continue
        low, high = wilson(yes, len(read))
        share = yes / len(read)
        passes = len(read) >= MIN_ROWS and share >= MIN_SHARE
        ok &= passes
        readers = sorted({r["reader"] for r in read})
        print(
            f"{path.stem}: {yes}/{len(read)} still injurious = {share:.1%} "
            f"[95% Wilson {low:.1%}, {high:.1%}]; no {counts['no']}, unsure {counts['unsure']}; "
            f"unread {len(unread)}; readers: {', '.join(readers)} -> "
            + (
                "may be used with kept"
                if passes
                else f"NOT for kept (needs >= {MIN_ROWS} read, >= 90%)"
            )
        )
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    s = commands.add_parser("sample", help="draw results of a recipe from a loop run to read")
    s.add_argument("project", help="a loop's project folder, e.g. runs/demo")
    s.add_argument("recipe")
    s.add_argument("--n", type=int, default=MIN_ROWS)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--out", required=True)
    s.add_argument("--extra", nargs="*", default=[], help="files written by `attack`")
    a = commands.add_parser("attack", help="more results of a recipe, on training snippets")
    a.add_argument("project")
    a.add_argument("recipe")
    a.add_argument("--round", type=int, required=True)
    a.add_argument("--n", type=int, default=200)
    a.add_argument(
        "--split",
        default="valid",
        choices=("train", "valid", "external"),
        help="never the test split, whose snippets the loop's attacks use",
    )
    a.add_argument("--config", help="the loop's TOML (default: the project's config.json)")
    a.add_argument("--out", required=True)
    c = commands.add_parser("score", help="the share still injurious in read audits")
    c.add_argument("paths", nargs="*", type=Path)
    args = parser.parse_args()
    if args.command == "sample":
        sample(args)
    elif args.command == "attack":
        attack(args)
    else:
        sys.exit(0 if score(args.paths or recipe_audits(Path("docs/audits"))) else 1)


if __name__ == "__main__":
    main()
