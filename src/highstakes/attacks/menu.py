"""The click-a-word menu of the rewriting tool: plausible replacements (or insertions)
for one word, each with the classifier score it would give, lowest score first."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from highstakes.attacks.candidates.base import CandidateSource, EditKind
from highstakes.attacks.text import Edit, Field, apply_edit, words_of
from highstakes.attacks.transformation import propose_all
from highstakes.data.records import Snippet
from highstakes.models.classifier import Classifier


@dataclass(frozen=True, slots=True)
class MenuItem:
    word: str
    source: str
    prior: float
    score: float  # the classifier's score with this edit applied
    edit: Edit
    snippet: Snippet


class SubstitutionMenu:
    def __init__(
        self, classifier: Classifier, sources: Sequence[CandidateSource], k_per_source: int = 14
    ) -> None:
        self.classifier = classifier
        self.sources = list(sources)
        self.k_per_source = k_per_source

    def menu(
        self, snippet: Snippet, field: Field, index: int, kind: EditKind = "replace"
    ) -> list[MenuItem]:
        """All sources' proposals for one slot, scored in one batch, best (lowest) first."""
        words = words_of(getattr(snippet, field), field)
        limit = len(words) if kind == "insert" else len(words) - 1
        if not 0 <= index <= limit:
            raise IndexError(f"{field} has no {'gap' if kind == 'insert' else 'word'} {index}")
        proposals = propose_all(self.sources, snippet, field, index, kind, self.k_per_source)
        original = words[index].text if kind == "replace" else ""
        edits = [Edit(field, kind, index, p.word, original) for p in proposals]
        edited = [apply_edit(snippet, e) for e in edits]
        scores = self.classifier.score(edited, fast=True)
        items = [
            MenuItem(p.word, p.source, p.prior, float(s), e, t)
            for p, e, t, s in zip(proposals, edits, edited, scores, strict=True)
        ]
        return sorted(items, key=lambda item: item.score)
