"""Record an independent second labeler's labels in a labeled set (shipped or a file).

usage: python scripts/demo_set/second_label.py demo|external|FILE.jsonl RELABEL.jsonl LABELER

RELABEL.jsonl holds {"id", "label", "reason"} rows from a labeler who saw only the
prompt and completion.  Each relabeled example gets LABELER added to its labelers;
where the two labels differ the example becomes "unsure" (the labeling guide: a
disagreement goes to unsure and to review) and `tags.disagreement` keeps both answers.
Rerunning with the same file changes nothing.
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

from highstakes.data.demo import DEMO_FILE, EXTERNAL_FILE, load_dataset
from highstakes.data.io import write_examples
from highstakes.data.jsonl import read_jsonl
from highstakes.data.records import Label


def main(which: str, relabel: Path, labeler: str) -> None:
    second = {r["id"]: r for r in read_jsonl(relabel) if r.get("id")}
    examples, changed = [], 0
    for e in load_dataset(which):
        r = second.get(e.id)
        if r is None or labeler in e.provenance.labelers:
            examples.append(e)
            continue
        provenance = replace(e.provenance, labelers=(*e.provenance.labelers, labeler))
        tags, label = dict(e.tags), e.label
        if r["label"] != e.label.value:
            tags["disagreement"] = f"first {e.label.value}, second {r['label']}: {r['reason']}"
            label, changed = Label.UNSURE, changed + 1
        examples.append(replace(e, provenance=provenance, tags=tags, label=label))
    out = {"demo": DEMO_FILE, "external": EXTERNAL_FILE}.get(which, Path(which))
    write_examples(out, examples)
    print(f"{out}: {len(second)} relabeled, {changed} disagreements now unsure")


if __name__ == "__main__":
    if len(sys.argv) != 4:
        raise SystemExit(__doc__)
    main(sys.argv[1], Path(sys.argv[2]), sys.argv[3])
