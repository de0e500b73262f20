"""Constraints that need no model: how many words change, and which words may."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from highstakes.attacks.base import Candidate
from highstakes.attacks.text import n_words_changed, words_of
from highstakes.data.records import Snippet

# Function words an attack may not replace by default: swapping them mostly breaks grammar
# rather than finding a blind spot.  A short list in the spirit of TextAttack's defaults.
STOPWORDS = frozenset(
    (
        "a",
        "an",
        "the",
        "and",
        "or",
        "but",
        "if",
        "then",
        "than",
        "so",
        "as",
        "of",
        "at",
        "by",
        "for",
        "from",
        "in",
        "into",
        "on",
        "onto",
        "to",
        "with",
        "without",
        "about",
        "over",
        "under",
        "up",
        "down",
        "out",
        "off",
        "he",
        "she",
        "it",
        "they",
        "we",
        "you",
        "i",
        "me",
        "him",
        "her",
        "them",
        "us",
        "my",
        "his",
        "its",
        "their",
        "our",
        "your",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "being",
        "am",
        "do",
        "does",
        "did",
        "have",
        "has",
        "had",
        "not",
        "no",
        "this",
        "that",
        "these",
        "those",
        "there",
        "here",
        "what",
        "which",
        "who",
        "whom",
        "whose",
        "when",
        "where",
        "why",
        "how",
        "all",
        "any",
        "each",
        "both",
        "some",
        "such",
        "only",
        "own",
        "same",
        "too",
        "very",
        "can",
        "will",
        "just",
    )
)


@dataclass
class MaxWordsChanged:
    """At most `max_fraction` of the original's words (both fields) may differ."""

    max_fraction: float = 0.15
    name: str = "max-words-changed"

    def check(self, original: Snippet, candidates: Sequence[Candidate]) -> list[bool]:
        n_words = len(words_of(original.prompt)) + len(words_of(original.completion))
        limit = max(1, int(self.max_fraction * n_words))
        return [n_words_changed(original, c.snippet) <= limit for c in candidates]


@dataclass
class StopwordsProtected:
    """Stopwords are not replaced (insertions are still allowed) unless `allow` is set."""

    allow: bool = False
    stopwords: frozenset[str] = STOPWORDS
    name: str = "stopwords"

    def check(self, original: Snippet, candidates: Sequence[Candidate]) -> list[bool]:
        if self.allow:
            return [True] * len(candidates)
        out = []
        for c in candidates:
            ok = True
            for edit in c.edits:
                if edit.kind == "replace" and edit.original.lower() in self.stopwords:
                    ok = False
            out.append(ok)
        return out
