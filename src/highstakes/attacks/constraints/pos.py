"""Part-of-speech agreement: a replacement keeps the word's part of speech.

Uses a tagger when one is available (nltk's averaged perceptron with its data installed,
or any callable taking a list of words and returning (word, tag) pairs).  Without one the
constraint passes everything and says so once in the log: it is a refinement, not a
guarantee.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from highstakes.attacks.base import Candidate
from highstakes.attacks.text import words_of
from highstakes.data.records import Snippet

log = logging.getLogger(__name__)
Tagger = Callable[[list[str]], list[tuple[str, str]]]


def nltk_tagger() -> Tagger | None:
    try:
        import nltk

        nltk.pos_tag(["test"])
    except Exception:  # nltk or its tagger data missing
        return None
    return nltk.pos_tag


def coarse(tag: str) -> str:
    """Penn Treebank tag -> coarse class (NN*, VB*, JJ*, RB* share a class)."""
    return tag[:2]


@dataclass
class PartOfSpeechAgreement:
    tagger: Tagger | None = field(default_factory=nltk_tagger)
    name: str = "part-of-speech"
    _warned: bool = False

    @property
    def available(self) -> bool:
        return self.tagger is not None

    def check(self, original: Snippet, candidates: Sequence[Candidate]) -> list[bool]:
        if self.tagger is None:
            if not self._warned:
                log.info("no part-of-speech tagger installed; POS agreement is not checked")
                self._warned = True
            return [True] * len(candidates)
        out = []
        for c in candidates:
            edit = c.edits[-1] if c.edits else None
            if edit is None or edit.kind != "replace" or c.parent is None:
                out.append(True)
                continue
            before = [w.text for w in words_of(getattr(c.parent, edit.field))]
            after = [w.text for w in words_of(getattr(c.snippet, edit.field))]
            tag_before = self.tagger(before)[edit.index][1]
            tag_after = self.tagger(after)[edit.index][1]
            out.append(coarse(tag_before) == coarse(tag_after))
        return out
