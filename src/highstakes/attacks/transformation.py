"""Word-level transformation: replace a word, or insert one before it, with proposals from
any mix of candidate sources; positions are visited in order of saliency."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from highstakes.attacks.base import Candidate
from highstakes.attacks.candidates.base import CandidateSource, EditKind, Proposal
from highstakes.attacks.saliency import (
    SaliencyMethod,
    WordSaliency,
    word_saliency,
    word_saliency_many,
)
from highstakes.attacks.text import Edit, Field, apply_edit, words_of
from highstakes.data.records import Snippet
from highstakes.models.classifier import Classifier

Position = tuple[Field, int]  # a word of the original snippet


def propose_all(
    sources: Sequence[CandidateSource],
    snippet: Snippet,
    field: Field,
    index: int,
    kind: EditKind,
    k: int,
    k_by_source: Mapping[str, int] | None = None,
) -> list[Proposal]:
    """Up to `k` proposals from each source (`k_by_source[source.name]` where given),
    de-duplicated (first source wins)."""
    seen: set[str] = set()
    out: list[Proposal] = []
    for source in sources:
        limit = (k_by_source or {}).get(source.name, k)
        for p in source.propose(snippet, field, index, kind, limit):
            if p.word.lower() not in seen:
                seen.add(p.word.lower())
                out.append(p)
    return out


def current_index(candidate: Candidate, field: Field, original_index: int) -> int | None:
    """Where word `original_index` of the original now is, or None if an edit replaced it
    (so no word is edited twice).  Edits may insert or replace several words at once."""
    index = original_index
    for e in candidate.edits:
        if e.field != field:
            continue
        grown = len(words_of(e.text, field))
        if e.kind == "insert":
            if e.index <= index:
                index += grown
        elif e.index <= index < e.index + e.span:
            return None
        elif index >= e.index + e.span:
            index += grown - e.span
    return index


def salient_positions(
    original: Snippet, classifier: Classifier, saliency: SaliencyMethod, fields: Sequence[Field]
) -> list[Position]:
    """The alphabetic words of `fields`, most salient first: where a search edits first."""
    return _ranked(word_saliency(classifier, original, saliency), fields)


def salient_positions_many(
    originals: Sequence[Snippet],
    classifier: Classifier,
    saliency: SaliencyMethod,
    fields: Sequence[Field],
) -> list[list[Position]]:
    """`salient_positions` of each snippet, their saliency computed in batches."""
    found = word_saliency_many(classifier, originals, saliency)
    return [_ranked(words, fields) for words in found]


def _ranked(words: list[WordSaliency], fields: Sequence[Field]) -> list[Position]:
    ranked = sorted(words, key=lambda w: -w.score)
    return [
        (w.word.field, w.word.index) for w in ranked if w.word.is_alpha and w.word.field in fields
    ]


@dataclass
class WordSubstitution:
    sources: Sequence[CandidateSource]
    k_per_source: int = 8
    insertions: bool = True
    saliency: SaliencyMethod = SaliencyMethod.GRADIENT_NORM
    fields: tuple[Field, ...] = ("prompt", "completion")

    def positions(self, original: Snippet, classifier: Classifier) -> list[Position]:
        return salient_positions(original, classifier, self.saliency, self.fields)

    def positions_many(
        self, originals: Sequence[Snippet], classifier: Classifier
    ) -> list[list[Position]]:
        return salient_positions_many(originals, classifier, self.saliency, self.fields)

    def neighbours(self, current: Candidate, position: Position) -> list[Candidate]:
        field, original_index = position
        index = current_index(current, field, original_index)
        if index is None:
            return []
        words = words_of(getattr(current.snippet, field), field)
        kinds: list[EditKind] = ["replace", "insert"] if self.insertions else ["replace"]
        out = []
        for kind in kinds:
            for p in propose_all(
                self.sources, current.snippet, field, index, kind, self.k_per_source
            ):
                edit = Edit(
                    field, kind, index, p.word, words[index].text if kind == "replace" else ""
                )
                out.append(
                    Candidate(
                        apply_edit(current.snippet, edit),
                        (*current.edits, edit),
                        current.snippet,
                        p.source,
                    )
                )
        return out
