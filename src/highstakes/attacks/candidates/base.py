"""The contract every candidate source meets."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

from highstakes.attacks.text import Field
from highstakes.data.records import Snippet

EditKind = Literal["replace", "insert"]


@dataclass(frozen=True, slots=True)
class Proposal:
    word: str
    prior: float  # the source's own preference (higher is better): log-prob or similarity
    source: str


class CandidateSource(Protocol):
    """Proposes words for word `index` of `field` (replace) or for gap `index` (insert)."""

    name: str

    def propose(
        self, snippet: Snippet, field: Field, index: int, kind: EditKind, k: int
    ) -> list[Proposal]: ...


def whole_word_vocab(tokenizer: object) -> dict[int, str]:
    """Token ids that are a whole alphabetic word on their own, for WordPiece (no '##'),
    SentencePiece ('▁' prefix) and byte-level BPE ('Ġ' prefix) vocabularies."""
    vocab: dict[str, int] = tokenizer.get_vocab()  # type: ignore[attr-defined]
    pieces = list(vocab)
    marked = sum(p.startswith(("▁", "Ġ")) for p in pieces) > len(pieces) // 10
    out: dict[int, str] = {}
    for piece, token_id in vocab.items():
        if marked:
            if not piece.startswith(("▁", "Ġ")):
                continue
            word = piece[1:]
        else:
            if piece.startswith("##") or piece.startswith("["):
                continue
            word = piece
        if word.isalpha() and word.isascii() and (len(word) > 1 or word.lower() in ("a", "i")):
            out[token_id] = word
    return out
