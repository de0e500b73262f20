"""The click-a-word menu of the rewriting tool: plausible replacements (or insertions)
for one word, each with the classifier score it would give, lowest score first.  Besides
single words (`sources`), edit sources may offer larger edits at the word, such as the
injury lexicon's other phrases for the injury the word is part of."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

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
        self,
        classifier: Classifier,
        sources: Sequence[CandidateSource],
        k_per_source: int = 14,
        edit_sources: Sequence[Any] = (),  # highstakes.attacks.preserving.EditSource
    ) -> None:
        self.classifier = classifier
        self.sources = list(sources)
        self.k_per_source = k_per_source
        self.edit_sources = list(edit_sources)

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
        offers = [
            (p.word, p.source, p.prior, e, apply_edit(snippet, e))
            for p, e in zip(proposals, edits, strict=True)
        ]
        if kind == "replace":
            for source in self.edit_sources:
                for group in source.edits(snippet, field, index):
                    edited = snippet
                    for e in group:
                        edited = apply_edit(edited, e)
                    offers.append((group[0].text, source.how, 0.0, group[0], edited))
        if not offers:
            return []
        scores = self.classifier.score([o[4] for o in offers], fast=True)
        items = [
            MenuItem(word, source, prior, float(s), e, t)
            for (word, source, prior, e, t), s in zip(offers, scores, strict=True)
        ]
        return sorted(items, key=lambda item: item.score)
