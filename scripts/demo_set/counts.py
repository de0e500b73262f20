"""Print the datasheet's count tables (markdown) for the shipped demo set."""

from __future__ import annotations

from collections import Counter

from highstakes.data.demo import load_demo
from highstakes.data.splits import assign_splits


def row(cells: list[object]) -> str:
    return "| " + " | ".join(f"{c:,}" if isinstance(c, int) else str(c) for c in cells) + " |"


demo = load_demo()
labels = Counter(e.label.value for e in demo)
n = len(demo)
print(f"{n:,} examples, {len({e.prompt for e in demo}):,} prompts\n")
print("| label | count | share |\n| --- | --- | --- |")
for name in ("yes", "no", "unsure"):
    print(row([name, labels[name], f"{100 * labels[name] / n:.1f}%"]))
negatives = [e for e in demo if e.label.value == "no"]
hard = [e for e in negatives if e.tags.get("hard_negative") == "True"]
share = 100 * len(hard) / len(negatives)
print(f"\nhard negatives {len(hard):,} of {len(negatives):,} ({share:.1f}%)")
print(", ".join(f"{k} {v}" for k, v in Counter(e.tags.get("kind") for e in hard).most_common()))
yes_kinds = Counter(e.tags.get("kind") for e in demo if e.label.value == "yes")
print(", ".join(f"{k} {v}" for k, v in yes_kinds.most_common()))
print("\n| split | yes | no | unsure | total | prompts |\n| --- | --- | --- | --- | --- | --- |")
for name, rows in assign_splits(demo).items():
    c = Counter(e.label.value for e in rows)
    print(row([name, c["yes"], c["no"], c["unsure"], len(rows), len({e.prompt for e in rows})]))
print("\n| source | yes | no | unsure | prompts |\n| --- | --- | --- | --- | --- |")
for src in sorted({e.provenance.source.value for e in demo}):
    rows = [e for e in demo if e.provenance.source.value == src]
    c = Counter(e.label.value for e in rows)
    print(row([src, c["yes"], c["no"], c["unsure"], len({e.prompt for e in rows})]))
print("\n| genre | yes | no | unsure | total |\n| --- | --- | --- | --- | --- |")
for genre in sorted({e.genre or "" for e in demo}):
    c = Counter(e.label.value for e in demo if e.genre == genre)
    print(row([genre, c["yes"], c["no"], c["unsure"], sum(c.values())]))
words = [len(e.completion.split()) for e in demo if e.label.value == "yes"]
print(
    f"\ninjurious completions of 12 words or fewer: {sum(w <= 12 for w in words)} of {len(words)}"
)
