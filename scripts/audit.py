"""Read audits of attack recipes whose results the loop labels with `kept`.

`kept` labels each attack result with its source's label without anyone reading it; it is
only allowed for recipes that keep the label by construction, and this is how that claim
is checked.  Two steps:

    python scripts/audit.py sample runs/demo typos --n 60 --out docs/audits/typos.jsonl
        draws `n` successful results of the recipe from a loop run (all rounds, the
        training, evaluation and held-out attacks), seeded, one JSON row each with the
        original, the result and the edits; `label` and `reader` are left empty for the
        person (or model) who reads them under the labeling guide.

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

from highstakes.evaluation.reliability import wilson
from highstakes.loop.project import read_lines

MIN_ROWS = 60
MIN_SHARE = 0.90
RUNS = ("train", "eval", "heldout")


def successes(project: Path, recipe: str) -> list[dict]:
    """Every result the recipe found under the threshold, across rounds and runs."""
    from highstakes.data.demo import load_dataset

    config = json.loads((project / "config.json").read_text())
    by_id = {e.id: e for e in load_dataset(config["data"])}
    out = []
    for round_dir in sorted(project.glob("round-*")):
        done = round_dir / "attack.done.json"
        if not done.exists():
            continue
        recipes = json.loads(done.read_text())["recipes"]
        for run in RUNS:
            path = round_dir / f"attack-{run}.jsonl"
            if recipes.get(run) != recipe or not path.exists():
                continue
            for record in read_lines(path):
                for found in [record["found"], *record.get("more", [])] if record["found"] else []:
                    source = by_id[record["target_id"]].snippet
                    out.append(
                        {
                            "recipe": recipe,
                            "round": int(round_dir.name.split("-")[1]),
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


def sample(args: argparse.Namespace) -> None:
    found = successes(Path(args.project), args.recipe)
    if len(found) < args.n:
        sys.exit(f"{args.project}: only {len(found)} successful {args.recipe} results")
    rows = random.Random(args.seed).sample(found, args.n)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    print(f"{len(rows)} of {len(found)} {args.recipe} results -> {out}")


def score(paths: list[Path]) -> bool:
    """Print each audit's figures; False if any recipe fails the bar."""
    ok = True
    for path in paths:
        rows = list(read_lines(path))
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
    c = commands.add_parser("score", help="the share still injurious in read audits")
    c.add_argument("paths", nargs="*", type=Path)
    args = parser.parse_args()
    if args.command == "sample":
        sample(args)
    else:
        paths = args.paths or sorted(Path("docs/audits").glob("*.jsonl"))
        sys.exit(0 if score(paths) else 1)


if __name__ == "__main__":
    main()
