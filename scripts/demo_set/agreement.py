"""Agreement between the demo set's labels and an independent relabel of 200 snippets.

usage: python scripts/demo_set/agreement.py [RELABEL.jsonl [demo|external]]
The relabel file holds {"id", "label", "reason"} rows from a second labeler who saw only
the prompt and completion (see DATASHEET.md, Agreement); the default is the first wave's
relabel_200.jsonl against the demo set.
"""

from __future__ import annotations

import sys
from pathlib import Path

from sklearn.metrics import cohen_kappa_score

from highstakes.data.demo import load_dataset
from highstakes.data.jsonl import read_jsonl
from highstakes.data.records import Example

path = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).with_name("relabel_200.jsonl"))


def first_label(e: Example) -> str:
    """The first labeler's answer, also where `second_label.py` has since made it unsure."""
    note = e.tags.get("disagreement", "")
    return note.split(",")[0].removeprefix("first ") if note else e.label.value


first = {e.id: first_label(e) for e in load_dataset(sys.argv[2] if len(sys.argv) > 2 else "demo")}
rows = read_jsonl(path)
a = [first[r["id"]] for r in rows]
b = [r["label"] for r in rows]
agree = sum(x == y for x, y in zip(a, b, strict=True))
print(f"{agree}/{len(rows)} agree, Cohen's kappa {cohen_kappa_score(a, b):.3f}")
both = [(x, y) for x, y in zip(a, b, strict=True) if "unsure" not in (x, y)]
same = sum(x == y for x, y in both)
print(f"where both said yes or no: {same}/{len(both)} agree")
for r, x in zip(rows, a, strict=True):
    if r["label"] != x:
        print(f"  {r['id']}: first {x}, second {r['label']}: {r.get('reason', '')}")
