"""Edits that keep a snippet's label by construction, and the transformation that
searches over them.

Each edit source makes one kind of edit at one word of the snippet:
- `typo`: a character edit a reader still reads as the same word (`candidates.typos`);
- `synonym`: a WordNet synonym of the same sense and part of speech (`candidates.wordnet`);
- `lexicon`: another phrase for the same injury (`attacks.lexicon`);
- `name`: a proper noun swapped everywhere it occurs (`candidates.names`);
- `neutral`: an opener or a neutral sentence inserted (`candidates.neutral`).
`LabelPreserving` visits the words in saliency order, never edits a word twice, and caps
each kind per snippet (`limits`), so that a result stays readable as the same story.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from highstakes.attacks.base import Candidate
from highstakes.attacks.candidates.base import CandidateSource
from highstakes.attacks.lexicon import Lexicon
from highstakes.attacks.saliency import SaliencyMethod
from highstakes.attacks.text import Edit, Field, apply_edit, words_of
from highstakes.attacks.transformation import (
    Position,
    current_index,
    salient_positions,
    salient_positions_many,
)
from highstakes.data.records import Snippet
from highstakes.models.classifier import Classifier


class EditSource(Protocol):
    """Proposes alternative edit groups at word `index` of `field`; each group is applied
    as one step (a name swap changes every occurrence at once)."""

    how: str

    def edits(self, snippet: Snippet, field: Field, index: int) -> list[tuple[Edit, ...]]: ...


@dataclass
class WordEdits:
    """A word-for-word candidate source (typos, WordNet) as an edit source."""

    source: CandidateSource
    how: str
    k: int = 6

    def edits(self, snippet: Snippet, field: Field, index: int) -> list[tuple[Edit, ...]]:
        original = words_of(getattr(snippet, field), field)[index].text
        return [
            (Edit(field, "replace", index, p.word, original, how=self.how),)
            for p in self.source.propose(snippet, field, index, "replace", self.k)
        ]


@dataclass
class LexiconEdits:
    """At a word inside an injury phrase of the lexicon, the group's other phrases."""

    lexicon: Lexicon
    k: int = 4
    how: str = "lexicon"

    def edits(self, snippet: Snippet, field: Field, index: int) -> list[tuple[Edit, ...]]:
        text = getattr(snippet, field)
        words = words_of(text, field)
        word = words[index]
        out: list[tuple[Edit, ...]] = []
        for match in self.lexicon.find(text):
            if not match.start <= word.start < match.end:
                continue
            covered = [w.index for w in words if w.start >= match.start and w.end <= match.end]
            for alternative in self.lexicon.alternatives(match)[: self.k]:
                edit = Edit(
                    field, "replace", covered[0], alternative, match.text, len(covered), self.how
                )
                out.append((edit,))
        return out


DEFAULT_LIMITS: dict[str, int] = {"typo": 4, "synonym": 4, "lexicon": 2, "name": 8, "neutral": 2}


@dataclass
class LabelPreserving:
    """A transformation over label-preserving edit sources (see the module's notes)."""

    sources: Sequence[EditSource]
    limits: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_LIMITS))
    saliency: SaliencyMethod = SaliencyMethod.GRADIENT_NORM
    fields: tuple[Field, ...] = ("prompt", "completion")

    def positions(self, original: Snippet, classifier: Classifier) -> list[Position]:
        return salient_positions(original, classifier, self.saliency, self.fields)

    def positions_many(
        self, originals: Sequence[Snippet], classifier: Classifier
    ) -> list[list[Position]]:
        return salient_positions_many(originals, classifier, self.saliency, self.fields)

    def neighbours(self, current: Candidate, position: Position) -> list[Candidate]:
        field_, original_index = position
        index = current_index(current, field_, original_index)
        if index is None:
            return []
        out = []
        for source in self.sources:
            used = sum(e.how == source.how for e in current.edits)
            limit = self.limits.get(source.how, math.inf)
            for edits in source.edits(current.snippet, field_, index):
                if used + len(edits) > limit:
                    continue
                snippet = current.snippet
                for edit in edits:
                    snippet = apply_edit(snippet, edit)
                out.append(
                    Candidate(snippet, (*current.edits, *edits), current.snippet, source.how)
                )
        return out


def random_edits(
    transformation: LabelPreserving, snippet: Snippet, steps: int, seed: int
) -> Candidate:
    """`steps` edits at random words (no classifier, no search): the same kind of change
    an attack makes, without aiming it.  Used to make matched negatives, so that training
    on attacked injurious snippets does not teach that a misspelling means injury."""
    import random

    rng = random.Random(seed)
    positions = [
        (f, w.index) for f in transformation.fields for w in words_of(getattr(snippet, f), f)
        if w.is_alpha
    ]  # fmt: skip
    rng.shuffle(positions)
    current = Candidate(snippet)
    done = 0
    for position in positions:
        if done >= steps:
            break
        options = transformation.neighbours(current, position)
        if options:
            current = rng.choice(options)
            done += 1
    return current
