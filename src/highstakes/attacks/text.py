"""Words and edits: the units that saliency is shown on and attacks change.

A word is a run of letters/digits (with inner apostrophes) or a single punctuation mark,
found in the prompt or the completion by character span, so it maps onto any tokenizer
through offsets.  An edit replaces word i (or the `span` words from i, for a phrase), or
inserts text into gap i (before word i; gap n is the end of the text).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from highstakes.data.records import Snippet

Field = Literal["prompt", "completion"]
FIELDS: tuple[Field, Field] = ("prompt", "completion")
WORD_RE = re.compile(r"\w+(?:['’]\w+)*|[^\w\s]")


@dataclass(frozen=True, slots=True)
class Word:
    field: Field
    index: int  # position among the words of its field
    text: str
    start: int  # character span in the field's text
    end: int

    @property
    def is_alpha(self) -> bool:
        return self.text.replace("'", "").replace("’", "").isalpha()


def word_list(text: str) -> tuple[str, ...]:
    """The space-separated words of a literal: compact hand-written word lists."""
    return tuple(text.split())


def words_of(text: str, field: Field = "completion") -> list[Word]:
    return [
        Word(field, i, m.group(), m.start(), m.end()) for i, m in enumerate(WORD_RE.finditer(text))
    ]


def snippet_words(snippet: Snippet) -> dict[Field, list[Word]]:
    return {
        "prompt": words_of(snippet.prompt, "prompt"),
        "completion": words_of(snippet.completion, "completion"),
    }


@dataclass(frozen=True, slots=True)
class Edit:
    field: Field
    kind: Literal["replace", "insert"]
    index: int  # word index (replace) or gap index (insert)
    text: str  # the new word (or words)
    original: str = ""  # the replaced text (empty for an insertion)
    span: int = 1  # how many words from `index` a replacement covers
    how: str = ""  # the transformation that made it: "typo", "synonym", "lexicon", ...

    def describe(self) -> str:
        tag = f" [{self.how}]" if self.how else ""
        if self.kind == "replace":
            return f"{self.original} -> {self.text}{tag}"
        return f"+{self.text}{tag}"


def apply_edit(snippet: Snippet, edit: Edit) -> Snippet:
    """The snippet with `edit` applied; raises IndexError for a position that does not exist."""
    text = getattr(snippet, edit.field)
    words = words_of(text, edit.field)
    if edit.kind == "replace":
        first, last = words[edit.index], words[edit.index + edit.span - 1]
        new = text[: first.start] + edit.text + text[last.end :]
    elif edit.index == len(words):
        new = text.rstrip() + " " + edit.text
    else:
        if not 0 <= edit.index < len(words):
            raise IndexError(f"no gap {edit.index} in {edit.field} ({len(words)} words)")
        start = words[edit.index].start
        new = text[:start] + edit.text + " " + text[start:]
    return (
        Snippet(new, snippet.completion) if edit.field == "prompt" else Snippet(snippet.prompt, new)
    )


def n_words_changed(original: Snippet, edited: Snippet) -> int:
    """Word-level edit distance between two snippets (both fields)."""
    total = 0
    for field in FIELDS:
        a = [w.text for w in words_of(getattr(original, field))]
        b = [w.text for w in words_of(getattr(edited, field))]
        total += _levenshtein(a, b)
    return total


def _levenshtein(a: list[str], b: list[str]) -> int:
    previous = list(range(len(b) + 1))
    for i, x in enumerate(a, start=1):
        current = [i]
        for j, y in enumerate(b, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (x != y)))
        previous = current
    return previous[-1]
