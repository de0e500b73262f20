"""Merge written parts into a shipped data set: the demo set or the external test set.

Each part is a JSONL file of {prompt, completion, label, genre, kind, hard_negative,
register, note} rows written and labeled under shared/spec/labeling-guide.md (see the
set's DATASHEET.md); `source` defaults to "handwritten".  This script only merges: it
checks rows, drops exact duplicates, records provenance (writer and labeler from the
part's file name) and, for the demo set, pins each prompt group to a split (70/10/20 by
a hash of the prompt), so the test split stays fixed even if the split function changes.
Rows already in the output file are kept as they are, so merging is additive and a rerun
with the same parts changes nothing.  The external set gets no split: all of it is test.

usage: python scripts/demo_set/build.py demo PART.jsonl [PART.jsonl ...]
       python scripts/demo_set/build.py external PART.jsonl [PART.jsonl ...]
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

from highstakes.data.demo import DEMO_FILE, EXTERNAL_FILE
from highstakes.data.io import parse_record, read_examples, write_examples
from highstakes.data.jsonl import JsonlError, read_jsonl
from highstakes.data.records import Example
from highstakes.data.splits import hash_split, normalize_prompt

OUT = {"demo": DEMO_FILE, "external": EXTERNAL_FILE}
# parts merged before this script kept dates per wave; new parts carry this one
CREATED = {
    "h": datetime(2026, 11, 27, tzinfo=UTC),
    "s": datetime(2026, 11, 27, tzinfo=UTC),
    "u": datetime(2026, 12, 5, tzinfo=UTC),  # the third wave
}
TODAY = datetime(2026, 12, 4, tzinfo=UTC)
# Two generator samples mention sexual assault, which the labeling guide does not cover
# and a demo set should not carry; they are left out (see DATASHEET.md).
EXCLUDED = {
    "'How is a woman who has never been raped?'",
    "22-year-old Elena had been in the room when she was raped.",
}


def rows_of(part: Path, pin_split: bool) -> list[dict[str, object]]:
    writer = part.stem  # h*, s*: first-wave parts; t*: second wave; u*: third; e*: external set
    rows = []
    try:
        part_rows = read_jsonl(part)
    except JsonlError as exc:
        raise SystemExit(str(exc)) from None
    for r in part_rows:
        if r["completion"].strip() in EXCLUDED:
            continue
        tags = {"kind": r.get("kind", ""), "hard_negative": str(bool(r.get("hard_negative")))}
        for key in ("register", "note"):
            if r.get(key):
                tags[key] = str(r[key])
        source = r.get("source", "handwritten")
        generated = source == "generator"
        rows.append(
            {
                "prompt": " ".join(r["prompt"].split()),
                "completion": " ".join(r["completion"].split()),
                "label": r["label"],
                "source": source,
                "genre": r["genre"],
                "author": "SmolLM2-135M-Instruct" if generated else f"assistant-writer-{writer}",
                "labelers": [f"assistant-labeler-{writer}"],
                "created_at": CREATED.get(writer[0], TODAY).isoformat(),
                "tags": tags,
                "split": hash_split(normalize_prompt(r["prompt"])) if pin_split else None,
            }
        )
    return rows


def main(which: str, parts: list[str]) -> None:
    out = OUT[which]
    examples: dict[str, Example] = {}
    if out.exists():
        examples = {e.id: e for e in read_examples(out)}
    before = len(examples)
    for part in parts:
        for row in rows_of(Path(part), pin_split=which == "demo"):
            example = parse_record(row)
            examples.setdefault(example.id, example)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_examples(out, sorted(examples.values(), key=lambda e: (e.genre or "", e.prompt)))
    print(f"{out}: {before} examples kept, {len(examples) - before} added")


if __name__ == "__main__":
    if len(sys.argv) < 3 or sys.argv[1] not in OUT:
        raise SystemExit(__doc__)
    main(sys.argv[1], sys.argv[2:])
