"""Build `second-external.jsonl` from the two writers' files in `parts/`.

usage: python benchmarks/data/second-external/build.py

Each part holds the rows one writer wrote and labeled under the guide ({"prompt",
"completion", "label", "genre", "register", "kind", "hard_negative", "note"}); this gives
them ids and provenance.  The second labeler's blind relabel is added afterwards
(DATASHEET.md, Agreement):

    python scripts/demo_set/second_label.py \
        benchmarks/data/second-external/second-external.jsonl \
        benchmarks/data/second-external/relabel.jsonl assistant-labeler-x5
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from highstakes.data.io import write_examples
from highstakes.data.jsonl import read_jsonl
from highstakes.data.records import Example, Label, Provenance, Snippet, Source

HERE = Path(__file__).parent
WRITTEN = datetime(2026, 12, 7, tzinfo=UTC)


def example(row: dict[str, object], writer: str) -> Example:
    snippet = Snippet(str(row["prompt"]), str(row["completion"]))
    tags = {
        "register": str(row["register"]),
        "kind": str(row["kind"]),
        "hard_negative": str(bool(row["hard_negative"])),
    }
    if row.get("note"):
        tags["note"] = str(row["note"])
    provenance = Provenance(
        Source.HANDWRITTEN, author=f"assistant-writer-{writer}",
        labelers=(f"assistant-labeler-{writer}",), created_at=WRITTEN,
    )  # fmt: skip
    label = Label(str(row["label"]))
    return Example(snippet.key(), snippet, label, provenance, str(row["genre"]), tags=tags)


def main() -> None:
    examples = [
        example(row, part.stem)
        for part in sorted((HERE / "parts").glob("*.jsonl"))
        for row in read_jsonl(part)
    ]
    if len({e.id for e in examples}) != len(examples):
        raise SystemExit("two rows share a prompt and completion")
    out = HERE / "second-external.jsonl"
    write_examples(out, examples)
    print(f"{out}: {len(examples)} examples")


if __name__ == "__main__":
    main()
