"""Fluency: an edit may not make the text much less likely under a causal LM."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from highstakes.attacks.base import Candidate
from highstakes.attacks.candidates.lm import LanguageModelProposals
from highstakes.data.records import Snippet


@dataclass
class FluencyDrop:
    """The latest edit may lower the LM log-likelihood of the text around it (the word and
    the next few tokens) by at most `max_drop` nats.  A drop of 5 nats means the edited
    stretch is about 150 times less likely than the original."""

    scorer: LanguageModelProposals
    max_drop: float = 5.0
    name: str = "fluency"

    def check(self, original: Snippet, candidates: Sequence[Candidate]) -> list[bool]:
        return [change >= -self.max_drop for change in self.changes(candidates)]

    def changes(self, candidates: Sequence[Candidate]) -> list[float]:
        """Log-likelihood change of each candidate's latest edit (0 for none)."""
        out = [0.0] * len(candidates)
        groups: dict[tuple[Snippet, str, str, int], list[int]] = {}
        for i, c in enumerate(candidates):
            if c.edits and c.parent is not None:
                e = c.edits[-1]
                groups.setdefault((c.parent, e.field, e.kind, e.index), []).append(i)
        for (parent, field, kind, index), members in groups.items():
            words = [candidates[i].edits[-1].text for i in members]
            changes = self.scorer.fluency_change(parent, field, index, kind, words)  # type: ignore[arg-type]
            for i, change in zip(members, changes, strict=True):
                out[i] = change
        return out
