"""Misspellings the loop never trains on, against every version of a finished loop.

usage: python benchmarks/unseen_edits.py --out FILE [--project runs/demo] [--budget 100]
       [--max-edits 6] [--targets N]

The demo's adversarial rounds train on the `typos` recipe's edits: two neighbouring
letters swapped, one letter dropped or doubled, one struck on a neighbouring key, never
the first letter.  A recipe written elsewhere need not keep to those (the attack issue's
example: "his Fwrist bending", "he could taste lood").  This script attacks the loop's
fixed evaluation targets (`eval-targets.json`: injurious test snippets v0 flags) in every
version with three kinds of edit the `typos` recipe cannot make:

- `lead`: the first letter dropped ("blood" -> "lood", words of five letters or more) or
  swapped with the second ("wrist" -> "rwist");
- `insert`: a letter inserted before another, struck on a key next to it ("wrist" ->
  "wruist"), the first position included;
- `lookalike`: one letter written as the digit it resembles ("br0ke", "b1ood", "s3ared").

At most one edit per word of four letters or more, at most `--max-edits` per snippet, the
same greedy saliency-ordered search and query budget as the loop's eval attack.  A variant
that is an English word, or one the `typos` recipe would also make, is left out.  Results
are counted as still injurious without reading them (the edits keep the words readable);
that claim is checked by reading a sample, kept in `docs/audits/unseen-edits.jsonl`.

Writes per version the success rate over all targets (a target the version passes
unedited counts too, as in the loop's report) with a 95% Clopper-Pearson interval,
queries per success and the edit kinds of the successes; and beside FILE, each version's
attack records (`<FILE stem>-records/unseen-r<N>.jsonl`) to read and audit
(`scripts/audit.py sample PROJECT unseen-edits --extra <those files>`).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections import Counter
from pathlib import Path
from typing import Any

os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")

import torch

from highstakes.attacks.candidates.base import EditKind, Proposal
from highstakes.attacks.candidates.typos import KEY_NEIGHBOURS, is_english, typo_variants
from highstakes.attacks.preserving import LabelPreserving, WordEdits
from highstakes.attacks.recipes import SearchAttack
from highstakes.attacks.search import BeamSearch
from highstakes.attacks.text import Field, words_of
from highstakes.data.demo import load_dataset
from highstakes.data.records import Snippet
from highstakes.loop.stages import attack_summary, results_of, run_attack
from highstakes.models.classifier import Classifier
from lockstep import cpu_name  # this folder's scripts: the CPU's model name

KINDS = ("lead", "insert", "lookalike")
LOOKALIKES = {"o": "0", "i": "1", "l": "1", "e": "3", "a": "4", "s": "5"}


def _lead(word: str) -> list[str]:
    out = []
    if len(word) >= 5:
        rest = word[1:]
        out.append(rest[0].upper() + rest[1:] if word[0].isupper() else rest)
    if word[0].lower() != word[1].lower():
        first, second = (word[1].upper(), word[0].lower()) if word[0].isupper() else word[1::-1]
        out.append(first + second + word[2:])
    return out


def _inserts(word: str) -> list[str]:
    """A neighbouring key of each letter struck just before it, middle positions first
    and the first position next (where the `typos` recipe never edits)."""
    n = len(word)
    order = sorted(range(n), key=lambda i: (i != n // 2, i != 0, abs(i - n / 2)))
    out = []
    for i in order:
        near = [k for k in KEY_NEIGHBOURS.get(word[i].lower(), "") if k != word[i].lower()]
        if i > 0:
            near = [k for k in near if k != word[i - 1].lower()]  # that would be a repeat
        out += [word[:i] + (k.upper() if word[i].isupper() else k) + word[i:] for k in near[:1]]
    return out


def _lookalikes(word: str) -> list[str]:
    n = len(word)
    order = sorted(range(n), key=lambda i: abs(i - n / 2))
    return [word[:i] + LOOKALIKES[word[i].lower()] + word[i + 1 :] for i in order
            if word[i].lower() in LOOKALIKES]  # fmt: skip


def unseen_variants(word: str, min_length: int = 4) -> list[tuple[str, str]]:
    """One-edit variants of `word` as (variant, kind), kinds interleaved, none of which the
    `typos` recipe makes and none an English word; empty for short or non-alphabetic
    words."""
    if len(word) < min_length or not word.isalpha() or not word.isascii():
        return []
    by_kind = {"lead": _lead(word), "insert": _inserts(word), "lookalike": _lookalikes(word)}
    seen = {word.lower()} | {v.lower() for v, _ in typo_variants(word, min_length)}
    out: list[tuple[str, str]] = []
    for rank in range(max(len(v) for v in by_kind.values())):
        for kind in KINDS:
            variants = by_kind[kind]
            if rank < len(variants) and variants[rank].lower() not in seen:
                seen.add(variants[rank].lower())
                if not is_english(variants[rank]):
                    out.append((variants[rank], kind))
    return out


class UnseenEdits:
    """A candidate source: the first `k` unseen variants of a word."""

    name = "unseen"

    def propose(
        self, snippet: Snippet, field: Field, index: int, kind: EditKind, k: int
    ) -> list[Proposal]:
        if kind != "replace":
            return []
        word = words_of(getattr(snippet, field), field)[index].text
        return [
            Proposal(v, -float(rank), self.name)
            for rank, (v, _) in enumerate(unseen_variants(word)[:k])
        ]


def unseen_attack(max_edits: int, k_per_word: int = 6) -> SearchAttack:
    transformation = LabelPreserving(
        [WordEdits(UnseenEdits(), "unseen", k_per_word)], {"unseen": max_edits}
    )
    return SearchAttack("unseen-edits", transformation, [], BeamSearch(1), preserves_label=True)


def edit_kinds(record: dict[str, Any]) -> Counter[str]:
    """The kinds of the edits of a record's result, recovered from its edit list."""
    kinds: Counter[str] = Counter()
    for edit in record["found"]["edits"].split("; "):
        old, _, after = edit.partition(" -> ")  # `Edit.describe`: "old -> new [unseen]"
        new = after.removesuffix(" [unseen]")
        kinds.update(kind for v, kind in unseen_variants(old) if v == new)
    return kinds


def version_figures(records: list[dict[str, Any]]) -> dict[str, Any]:
    labels = {s.key(): "yes" for r in records for s in results_of(r)}  # kept: audited
    out = attack_summary(records, labels)
    kinds: Counter[str] = Counter()
    for r in records:
        if r["found"]:
            kinds += edit_kinds(r)
    return {**out, "edit_kinds": dict(kinds), "passed_unedited": out["targets"] - out["flagged"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--project", type=Path, default=Path("runs/demo"))
    parser.add_argument("--budget", type=int, default=100)
    parser.add_argument("--max-edits", type=int, default=6)
    parser.add_argument("--targets", type=int, default=None, help="the first N (default all)")
    parser.add_argument("--together", type=int, default=64)
    args = parser.parse_args()
    config = json.loads((args.project / "config.json").read_text())
    by_id = {e.id: e for e in load_dataset(config["data"])}
    ids = json.loads((args.project / "eval-targets.json").read_text())[: args.targets]
    targets = [by_id[i] for i in ids]
    rounds = sorted(
        int(p.name.split("-")[1]) for p in args.project.glob("round-*") if (p / "model").exists()
    )
    records_dir = args.out.parent / f"{args.out.stem}-records"
    records_dir.mkdir(parents=True, exist_ok=True)
    attack = unseen_attack(args.max_edits)
    results: dict[str, Any] = {
        "project": str(args.project), "cpu": cpu_name(), "threads": torch.get_num_threads(),
        "targets": len(targets), "budget": args.budget, "max_edits": args.max_edits,
        "versions": {},
    }  # fmt: skip
    for r in rounds:
        clf = Classifier.from_pretrained(args.project / f"round-{r}" / "model")
        path = records_dir / f"unseen-r{r}.jsonl"  # `scripts/audit.py sample --extra` reads r
        path.unlink(missing_ok=True)
        t0 = time.perf_counter()
        records = run_attack(attack, clf, targets, args.budget, path, f"unseen-{r}",
                             together=args.together)  # fmt: skip
        figures = {**version_figures(records), "seconds": round(time.perf_counter() - t0, 1)}
        results["versions"][f"v{r}"] = figures
        low, high = figures["success_rate_interval"]
        print(f"v{r}: {figures['succeeded']}/{figures['targets']} "
              f"[{low:.2f}, {high:.2f}] kinds {figures['edit_kinds']}", flush=True)  # fmt: skip
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
