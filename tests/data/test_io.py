from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from highstakes.data.io import DataError, merge_into, read_examples, write_examples
from highstakes.data.records import Example, Label

GOOD = {"prompt": "A. B. C.", "completion": "D.", "label": "yes", "source": "random"}


def write_jsonl(path: Path, rows: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.mark.parametrize("suffix", [".jsonl", ".csv", ".parquet", ""])
def test_round_trip_every_format(tmp_path: Path, examples: list[Example], suffix: str) -> None:
    first = replace(examples[0], genre="war", split="test", tags={"note": 'comma, "quote"'})
    tagged = [first, *examples[1:]]
    path = write_examples(tmp_path / f"out{suffix}", tagged)
    back = read_examples(path)
    assert [e.to_record() for e in back] == [e.to_record() for e in tagged]


def test_labels_are_parsed_case_insensitively(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "a.jsonl", [{**GOOD, "label": " YES "}])
    assert read_examples(path)[0].label is Label.YES


@pytest.mark.parametrize(
    ("row", "field", "words"),
    [
        ({k: v for k, v in GOOD.items() if k != "completion"}, "completion", "missing"),
        ({**GOOD, "label": "maybe"}, "label", "unknown value 'maybe'"),
        ({**GOOD, "prompt": "   "}, "prompt", "is empty"),
        ({**GOOD, "source": "telepathy"}, "source", "expected one of"),
        ({**GOOD, "split": "dev"}, "split", "unknown split"),
        ({**GOOD, "round": "two"}, "round", "must be a number"),
        ({**GOOD, "seconds_spent": -3}, "seconds_spent", "negative"),
    ],
)
def test_bad_rows_name_file_line_and_field(
    tmp_path: Path, row: dict[str, object], field: str, words: str
) -> None:
    path = write_jsonl(tmp_path / "bad.jsonl", [GOOD, {**GOOD, "completion": "E."}, row])
    with pytest.raises(DataError) as info:
        read_examples(path)
    message = str(info.value)
    assert f"bad.jsonl, line 3, field '{field}'" in message
    assert words in message
    assert "none of it was used" in message


def test_wrong_encoding_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "latin.jsonl"
    good = json.dumps(GOOD).encode()
    path.write_bytes(good + b"\n" + good.replace(b"D.", b"Caf\xe9.") + b"\n")
    with pytest.raises(DataError, match=r"latin.jsonl, line 2: not valid UTF-8"):
        read_examples(path)


def test_wrong_encoding_in_csv(tmp_path: Path) -> None:
    path = tmp_path / "latin.csv"
    path.write_bytes(b"prompt,completion,label\nA. B. C.,D.,no\nA. B. C.,Caf\xe9.,no\n")
    with pytest.raises(DataError, match=r"latin.csv, line 3: not valid UTF-8"):
        read_examples(path)


def test_five_megabyte_line_is_refused(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "huge.jsonl", [GOOD, {**GOOD, "completion": "x" * 5_000_000}])
    with pytest.raises(DataError, match=r"huge.jsonl, line 2: line is 5,000,\d+ bytes long"):
        read_examples(path)


def test_invalid_json_and_non_object(tmp_path: Path) -> None:
    path = tmp_path / "x.jsonl"
    path.write_text(json.dumps(GOOD) + "\n{not json\n[1, 2]\n")
    with pytest.raises(DataError) as info:
        read_examples(path)
    assert [p.line for p in info.value.problems] == [2, 3]


def test_csv_missing_column(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("prompt,label\nA. B. C.,yes\n")
    with pytest.raises(DataError, match=r"field 'completion': missing column"):
        read_examples(path)


def test_duplicate_ids_are_refused(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "d.jsonl", [{**GOOD, "id": "a"}, {**GOOD, "id": "a"}])
    with pytest.raises(DataError, match="duplicate id 'a' \\(first on line 1\\)"):
        read_examples(path)


def test_default_source_fills_missing(tmp_path: Path) -> None:
    from highstakes.data.records import Source

    row = {k: v for k, v in GOOD.items() if k != "source"}
    path = write_jsonl(tmp_path / "s.jsonl", [row])
    with pytest.raises(DataError, match="field 'source': missing"):
        read_examples(path)
    assert read_examples(path, default_source=Source.PARAPHRASE)[0].provenance.source.value == (
        "paraphrase"
    )


def test_merge_is_all_or_nothing_and_idempotent(tmp_path: Path, examples: list[Example]) -> None:
    dataset = tmp_path / "project.jsonl"
    assert merge_into(dataset, examples[:10]) == (10, 0)
    assert merge_into(dataset, examples[:12]) == (2, 10)
    before = dataset.read_bytes()
    bad = write_jsonl(tmp_path / "bad.jsonl", [GOOD, {**GOOD, "label": "perhaps"}])
    with pytest.raises(DataError):
        merge_into(dataset, read_examples(bad))
    assert dataset.read_bytes() == before
    assert len(read_examples(dataset)) == 12


def test_unknown_suffix_is_explained(tmp_path: Path) -> None:
    path = tmp_path / "data.xlsx"
    path.write_text("x")
    with pytest.raises(ValueError, match="cannot tell the format"):
        read_examples(path)
