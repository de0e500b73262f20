"""What reading look-alike letters as plain ones costs the classifier's tokenizer.

usage: python benchmarks/normalize_cost.py --out normalize-cost.json [--pairs 1024]
       [--repeats 15]

Tokenizes the first `--pairs` demo snippets (prompt and completion, as the classifier
pairs them) with the embedded MiniLM tokenizer as shipped and with `harden`'s steps in
front of its normalizer (models/normalize.py), `--repeats` times each, alternating, and
writes the median and best times of each, the look-alike table's size and the CPU; and
the time `reading_order` (which the classifier runs on each text before tokenizing) takes
over the same texts.  Checks on the way that both give the same token ids and that
`reading_order` returns each text as it is: on ordinary text neither step changes
anything.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from transformers import AutoTokenizer

from highstakes.data.demo import load_demo
from highstakes.models.embedded import minilm_folder
from highstakes.models.normalize import CONFUSABLES, harden, reading_order
from lockstep import cpu_name  # this folder's scripts: the CPU's model name


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--pairs", type=int, default=1024)
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    examples = load_demo()[: args.pairs]
    prompts = [e.prompt for e in examples]
    completions = [e.completion for e in examples]
    plain = AutoTokenizer.from_pretrained(minilm_folder())
    folding = AutoTokenizer.from_pretrained(minilm_folder())
    harden(folding.backend_tokenizer)
    if plain(prompts, completions)["input_ids"] != folding(prompts, completions)["input_ids"]:
        raise SystemExit("folding changed the tokens of ordinary text")
    if any(reading_order(t) is not t for t in prompts + completions):
        raise SystemExit("reading_order changed ordinary text")
    times: dict[str, list[float]] = {"plain": [], "folding": [], "reading_order": []}
    for _ in range(args.repeats):
        for name, tok in (("plain", plain), ("folding", folding)):
            t0 = time.perf_counter()
            tok(prompts, completions, truncation=True, max_length=256)
            times[name].append((time.perf_counter() - t0) * 1000)
        t0 = time.perf_counter()
        for text in prompts + completions:
            reading_order(text)
        times["reading_order"].append((time.perf_counter() - t0) * 1000)
    out = {
        "cpu": cpu_name(),
        "pairs": len(examples),
        "look_alikes": len(CONFUSABLES),
        "repeats": args.repeats,
        **{f"{name}_median_ms": round(statistics.median(t), 2) for name, t in times.items()},
        **{f"{name}_best_ms": round(min(t), 2) for name, t in times.items()},
    }
    print(json.dumps(out, indent=1))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
