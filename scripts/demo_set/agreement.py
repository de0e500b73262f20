"""Agreement between the demo set's labels and an independent relabel of 200 snippets.

usage: python scripts/demo_set/agreement.py [scripts/demo_set/relabel_200.jsonl]
The relabel file holds {"id", "label", "reason"} rows from a second labeler who saw only
the prompt and completion (see DATASHEET.md, Agreement).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from sklearn.metrics import cohen_kappa_score

from highstakes.data.demo import load_demo

path = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).with_name("relabel_200.jsonl"))
first = {e.id: e.label.value for e in load_demo()}
rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
a = [first[r["id"]] for r in rows]
b = [r["label"] for r in rows]
agree = sum(x == y for x, y in zip(a, b, strict=True))
print(f"{agree}/{len(rows)} agree, Cohen's kappa {cohen_kappa_score(a, b):.3f}")
