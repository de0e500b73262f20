from __future__ import annotations

from pathlib import Path

import pytest

from highstakes.data.jsonl import JsonlError, iter_jsonl, read_jsonl


def test_blank_lines_are_skipped_and_lines_keep_their_numbers(tmp_path: Path) -> None:
    path = tmp_path / "rows.jsonl"
    path.write_text('{"a": 1}\n\n   \n{"a": 2}\r\n{"a": "x\\u2028y"}\n', encoding="utf-8")
    assert read_jsonl(path) == [{"a": 1}, {"a": 2}, {"a": "x\u2028y"}]
    assert [n for n, _ in iter_jsonl(path)] == [1, 4, 5]


def test_a_bad_line_names_the_file_and_the_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"a": 1}\n\n{"a": \n{"a": 3}\n')
    with pytest.raises(JsonlError) as info:
        read_jsonl(path)
    assert str(info.value).startswith(f"{path}:3: not valid JSON")
    assert "each line must be one object" in str(info.value)
    assert (info.value.path, info.value.line) == (path, 3)


@pytest.mark.parametrize(("line", "kind"), [("[1, 2]", "an array"), ('"text"', "a string")])
def test_a_line_that_is_not_an_object_is_refused(tmp_path: Path, line: str, kind: str) -> None:
    path = tmp_path / "list.jsonl"
    path.write_text(f'{{"a": 1}}\n{line}\n')
    expected = rf"list.jsonl:2: each line must be a JSON object .*, got {kind}"
    with pytest.raises(JsonlError, match=expected):
        read_jsonl(path)


def test_not_utf8_and_too_long_lines_are_named(tmp_path: Path) -> None:
    path = tmp_path / "latin.jsonl"
    path.write_bytes(b'{"a": "caf\xe9"}\n')
    with pytest.raises(JsonlError, match=r"latin.jsonl:1: not valid UTF-8"):
        read_jsonl(path)
    long = tmp_path / "long.jsonl"
    long.write_text('{"a": 1}\n{"a": "' + "x" * 100 + '"}\n')
    with pytest.raises(JsonlError, match=r"long.jsonl:2: line is 110 bytes long \(limit 50\)"):
        list(iter_jsonl(long, max_line_bytes=50))


def test_on_error_collects_every_bad_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"a": 1}\nnope\n[]\n{"a": 4}\n')
    errors: list[JsonlError] = []
    rows = list(iter_jsonl(path, on_error=errors.append))
    assert rows == [(1, {"a": 1}), (4, {"a": 4})]
    assert [e.line for e in errors] == [2, 3]


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no such file"):
        read_jsonl(tmp_path / "absent.jsonl")
    assert read_jsonl(tmp_path / "absent.jsonl", missing_ok=True) == []


def test_a_torn_last_line_is_dropped_only_when_asked(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    path.write_text('{"a": 1}\n{"a": 2}\n{"a": 3, "b"')  # a crash cut the last write
    assert read_jsonl(path, torn_tail_ok=True) == [{"a": 1}, {"a": 2}]
    with pytest.raises(JsonlError, match=r"log.jsonl:3:"):
        read_jsonl(path)
    path.write_text('{"a": 1}\n{"a": 2, "b"\n{"a": 3}\n')  # a bad line before the last
    with pytest.raises(JsonlError, match=r"log.jsonl:2:"):
        read_jsonl(path, torn_tail_ok=True)
    path.write_text('{"a": 1}\n{"a"\n\n')  # blank lines after a cut line: still the tail
    assert read_jsonl(path, torn_tail_ok=True) == [{"a": 1}]
