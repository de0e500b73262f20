"""The shipped demo set meets what its datasheet promises."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

from highstakes.data.demo import (
    DATASHEET,
    EXTERNAL_DATASHEET,
    load_dataset,
    load_demo,
    load_external,
)
from highstakes.data.records import Label
from highstakes.data.splits import assign_splits
from highstakes.data.stats import dataset_stats


def test_size_prompts_and_genres() -> None:
    demo = load_demo()
    stats = dataset_stats(demo)
    assert stats["n_examples"] >= 4000
    assert stats["n_prompts"] >= 900
    assert len(stats["genre"]) >= 10
    assert {"handwritten", "generator"} <= set(stats["source"])


def test_label_balance_and_hard_negatives() -> None:
    demo = load_demo()
    labels = Counter(e.label for e in demo)
    share_yes = labels[Label.YES] / len(demo)
    assert 0.20 <= share_yes <= 0.40
    negatives = [e for e in demo if e.label is Label.NO]
    hard = [e for e in negatives if e.tags.get("hard_negative") == "True"]
    assert len(hard) >= len(negatives) / 3


def test_every_example_has_provenance_and_a_fixed_split() -> None:
    for e in load_demo():
        assert e.split in ("train", "valid", "test")
        assert e.provenance.author and e.provenance.labelers
        assert e.genre


def test_prompts_have_three_sentences() -> None:
    ends = re.compile(r"[.!?][\"'”’)]*(\s|$)")
    prompts = {e.prompt for e in load_demo()}
    three = [p for p in prompts if len(ends.findall(p)) == 3]
    assert len(three) >= 0.95 * len(prompts)  # a few dialogue lines fool the regex


def test_test_split_is_fixed_grouped_and_has_both_labels() -> None:
    parts = assign_splits(load_demo())
    test_labels = Counter(e.label for e in parts["test"])
    assert test_labels[Label.YES] >= 50 and test_labels[Label.NO] >= 150
    prompts = {name: {e.prompt for e in rows} for name, rows in parts.items()}
    assert not prompts["test"] & prompts["train"]
    assert not prompts["valid"] & prompts["train"]


def test_datasheet_counts_match_the_data() -> None:
    stats = dataset_stats(load_demo())
    sheet = DATASHEET.read_text()
    assert f"{stats['n_examples']:,}" in sheet
    assert f"{stats['n_prompts']:,}" in sheet


def test_external_set_is_apart_from_the_demo_set() -> None:
    external, demo = load_external(), load_demo()
    assert [e.id for e in load_dataset("external")] == [e.id for e in external]
    labels = Counter(e.label for e in external)
    assert len(external) >= 300 and labels[Label.YES] >= 100
    assert all(e.split is None for e in external)  # all of it is test data
    # written apart: no prompt and no completion of the demo set appears in it
    assert not {e.prompt for e in external} & {e.prompt for e in demo}
    assert not {e.completion for e in external} & {e.completion for e in demo}
    sheet = EXTERNAL_DATASHEET.read_text()
    assert f"{len(external)}" in sheet and f"{labels[Label.YES]}" in sheet


def test_second_external_set_is_apart_and_matches_its_datasheet() -> None:
    folder = Path(__file__).parents[2] / "benchmarks" / "data" / "second-external"
    second = load_dataset(folder / "second-external.jsonl")
    demo, external = load_demo(), load_external()
    for other in (demo, external):  # written apart from both
        assert not {e.prompt for e in second} & {e.prompt for e in other}
        assert not {e.completion for e in second} & {e.completion for e in other}
    assert all(e.split is None and e.tags.get("register") for e in second)
    # every row carries both labelers; the disagreements went to unsure
    assert all(len(e.provenance.labelers) == 2 for e in second)
    assert all(e.label is Label.UNSURE for e in second if "disagreement" in e.tags)
    labels = Counter(e.label for e in second)
    sheet = (folder / "DATASHEET.md").read_text()
    counts = f"{len(second)}** labeled story snippets over **{len({e.prompt for e in second})}"
    assert counts in sheet
    assert (
        f"({labels[Label.YES]} yes,\n{labels[Label.NO]} no, {labels[Label.UNSURE]} unsure)" in sheet
    )
