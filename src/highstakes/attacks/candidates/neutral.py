"""Meaning-neutral insertions: an opening adverb, interjection or clause at the start of a
sentence of the completion, or a neutral sentence between the prompt's sentences.

None of them says anything about anyone's body, so the snippet's label is kept by
construction: "Then, the blade slipped and cut his palm." is as injurious as the
original.  The lists are short, hand-written and free of hedges ("perhaps", "or so it
seemed") that would put the injury in doubt, and of anything that could read as a
threat, a danger or a rescue.
"""

from __future__ import annotations

import hashlib

from highstakes.attacks.text import Edit, Field, words_of
from highstakes.data.records import Snippet

OPENERS = (
    "Then,",
    "Well,",
    "Oh,",
    "After that,",
    "Just then,",
    "At that point,",
    "That afternoon,",
    "As it turned out,",
    "By then,",
    "Later,",
    "For a second,",
    "Meanwhile,",
    "As the clock struck nine,",
    "While the kettle boiled,",
    "With the radio still playing,",
    "Under a grey sky,",
)
PROMPT_SENTENCES = (
    "The kettle was still warm on the stove.",
    "It was a Tuesday in late October.",
    "Somewhere down the street a radio was playing.",
    "The light outside had turned the colour of weak tea.",
    "A calendar with the wrong month hung by the door.",
    "Nobody had swept the porch that week.",
    "The clock in the hall was five minutes fast.",
    "It had rained in the morning and the roads were still dark.",
    "There were crumbs on the table from breakfast.",
    "A pair of pigeons sat on the gutter.",
    "The house smelled faintly of toast.",
    "Someone had left a newspaper folded on the chair.",
)
KEEP_CAPITAL = frozenset(("I",))
SENTENCE_END = frozenset(".!?")


def sentence_starts(text: str, field: Field) -> list[int]:
    """Indices of the words that begin a sentence (alphabetic, capitalized)."""
    words = words_of(text, field)
    out = []
    for i, w in enumerate(words):
        starts = i == 0 or words[i - 1].text in SENTENCE_END
        if starts and w.text[:1].isupper() and w.is_alpha:
            out.append(i)
    return out


def _pick(options: tuple[str, ...], key: str, k: int) -> list[str]:
    start = int(hashlib.sha256(key.encode()).hexdigest()[:8], 16) % len(options)
    return list((options[start:] + options[:start])[:k])


def _lowered(word: str, snippet: Snippet) -> str:
    """The sentence's first word as it reads after an opener: lower case, unless the
    snippet also writes it capitalized mid-sentence (a name) or it is "I"."""
    if word in KEEP_CAPITAL:
        return word
    for field in ("prompt", "completion"):
        words = words_of(getattr(snippet, field), field)
        for i, w in enumerate(words):
            if w.text == word and i > 0 and words[i - 1].text not in SENTENCE_END:
                return word
    return word[0].lower() + word[1:]


class NeutralInsertions:
    """Edit source: at a sentence's first word, an opener (completion) or a neutral
    sentence before it (prompt); `k` alternatives each, chosen by the snippet."""

    how = "neutral"

    def __init__(self, k: int = 3) -> None:
        self.k = k

    def edits(self, snippet: Snippet, field: Field, index: int) -> list[tuple[Edit, ...]]:
        text = getattr(snippet, field)
        if index not in sentence_starts(text, field):
            return []
        word = words_of(text, field)[index].text
        key = f"{snippet.key()}:{field}:{index}"
        if field == "prompt":
            return [
                (Edit(field, "insert", index, sentence, how=self.how),)
                for sentence in _pick(PROMPT_SENTENCES, key, self.k)
            ]
        lowered = _lowered(word, snippet)
        return [
            (Edit(field, "replace", index, f"{opener} {lowered}", word, how=self.how),)
            for opener in _pick(OPENERS, key, self.k)
        ]
