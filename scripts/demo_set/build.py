"""Merge the demo set's written parts into src/highstakes/data/demo/demo.jsonl.

Each part is a JSONL file of {prompt, completion, label, genre, source, hard_negative, kind,
note} rows written and labeled under shared/spec/labeling-guide.md (see DATASHEET.md).
This script only merges: it checks rows, drops exact duplicates, records provenance and
pins each prompt group to a split (70/10/20 by a hash of the prompt), so the test split
stays fixed even if the split function changes later.

usage: python scripts/demo_set/build.py PART.jsonl [PART.jsonl ...]
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path

from highstakes.data.io import parse_record, write_examples
from highstakes.data.records import Example
from highstakes.data.splits import hash_split, normalize_prompt

OUT = Path(__file__).resolve().parents[2] / "src/highstakes/data/demo/demo.jsonl"
CREATED = datetime(2026, 11, 27, tzinfo=UTC).isoformat()
# Two generator samples mention sexual assault, which the labeling guide does not cover
# and a demo set should not carry; they are left out (see DATASHEET.md).
EXCLUDED = {
    "'How is a woman who has never been raped?'",
    "22-year-old Elena had been in the room when she was raped.",
}


def rows_of(part: Path) -> list[dict[str, object]]:
    writer = part.stem  # h1..h6: handwritten parts; g1, g2: generator samples
    rows = []
    for line in part.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        r = json.loads(line)
        if r["completion"].strip() in EXCLUDED:
            continue
        tags = {"kind": r.get("kind", ""), "hard_negative": str(bool(r.get("hard_negative")))}
        if r.get("note"):
            tags["note"] = r["note"]
        generated = r["source"] == "generator"
        rows.append(
            {
                "prompt": " ".join(r["prompt"].split()),
                "completion": " ".join(r["completion"].split()),
                "label": r["label"],
                "source": r["source"],
                "genre": r["genre"],
                "author": "SmolLM2-135M-Instruct" if generated else f"assistant-writer-{writer}",
                "labelers": [f"assistant-labeler-{writer}"],
                "created_at": CREATED,
                "tags": tags,
                "split": hash_split(normalize_prompt(r["prompt"])),
            }
        )
    return rows


def main(parts: list[str]) -> None:
    examples: dict[str, Example] = {}
    for part in parts:
        for row in rows_of(Path(part)):
            example = parse_record(row)
            examples.setdefault(example.id, example)
    write_examples(OUT, sorted(examples.values(), key=lambda e: (e.genre or "", e.prompt)))
    print(f"wrote {len(examples)} examples to {OUT}")


if __name__ == "__main__":
    main(sys.argv[1:])
