"""Print a datasheet's count tables (markdown) for a shipped set.

usage: python scripts/demo_set/counts.py [demo|external]
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Callable

from highstakes.data.demo import load_dataset
from highstakes.data.records import Example
from highstakes.data.splits import assign_splits


def row(cells: list[object]) -> str:
    return "| " + " | ".join(f"{c:,}" if isinstance(c, int) else str(c) for c in cells) + " |"


def by(examples: list[Example], name: str, key: Callable[[Example], str]) -> None:
    """A yes/no/unsure table of `examples` grouped by `key`, largest group first."""
    groups: dict[str, Counter[str]] = {}
    for e in examples:
        groups.setdefault(key(e), Counter())[e.label.value] += 1
    print(f"\n| {name} | yes | no | unsure | total |\n| --- | --- | --- | --- | --- |")
    for value, c in sorted(groups.items(), key=lambda kv: (-sum(kv[1].values()), kv[0])):
        print(row([value, c["yes"], c["no"], c["unsure"], sum(c.values())]))


def main(which: str) -> None:
    data = load_dataset(which)
    labels = Counter(e.label.value for e in data)
    n = len(data)
    print(f"{n:,} examples, {len({e.prompt for e in data}):,} prompts\n")
    print("| label | count | share |\n| --- | --- | --- |")
    for name in ("yes", "no", "unsure"):
        print(row([name, labels[name], f"{100 * labels[name] / n:.1f}%"]))
    negatives = [e for e in data if e.label.value == "no"]
    hard = [e for e in negatives if e.tags.get("hard_negative") == "True"]
    share = 100 * len(hard) / max(len(negatives), 1)
    print(f"\nhard negatives {len(hard):,} of {len(negatives):,} ({share:.1f}%)")
    print(", ".join(f"{k} {v}" for k, v in Counter(e.tags.get("kind") for e in hard).most_common()))
    yes_kinds = Counter(e.tags.get("kind") for e in data if e.label.value == "yes")
    print(", ".join(f"{k} {v}" for k, v in yes_kinds.most_common()))
    if which == "demo":
        print("\n| split | yes | no | unsure | total | prompts |")
        print("| --- | --- | --- | --- | --- | --- |")
        for name, rows in assign_splits(data).items():
            c = Counter(e.label.value for e in rows)
            prompts = len({e.prompt for e in rows})
            print(row([name, c["yes"], c["no"], c["unsure"], len(rows), prompts]))
    by(data, "source", lambda e: e.provenance.source.value)
    by(data, "writer", lambda e: e.provenance.author or "")
    by(data, "register", lambda e: e.tags.get("register", "not recorded (first wave)"))
    by(data, "genre", lambda e: e.genre or "")
    words = [len(e.completion.split()) for e in data if e.label.value == "yes"]
    short = sum(w <= 12 for w in words)
    print(f"\ninjurious completions of 12 words or fewer: {short} of {len(words)}")
    mean_prompt = sum(len(e.prompt.split()) for e in data) / n
    mean_completion = sum(len(e.completion.split()) for e in data) / n
    print(f"mean length: prompt {mean_prompt:.0f} words, completion {mean_completion:.0f} words")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "demo")
