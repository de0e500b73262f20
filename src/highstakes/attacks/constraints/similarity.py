"""Meaning: the edited snippet's sentence embedding stays close to the original's."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from highstakes.attacks.base import Candidate
from highstakes.data.records import Snippet


class SentenceEncoder:
    """Mean-pooled, normalized sentence embeddings; default: the embedded all-MiniLM-L6-v2,
    which was trained for exactly this (sentence-transformers)."""

    def __init__(self, model: str = "embedded-minilm", device: str | None = None) -> None:
        from sentence_transformers import SentenceTransformer

        from highstakes.models.classifier import bf16_is_fast
        from highstakes.models.embedded import resolve

        self.model = SentenceTransformer(resolve(model).path, device=device or "cpu")
        # bf16 where native: the encoder costs attacks more than the classifier does, and
        # cosines move by ~1e-3, far inside any similarity floor
        self.bf16 = bf16_is_fast(self.model.device)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        import torch

        with torch.autocast(self.model.device.type, dtype=torch.bfloat16, enabled=self.bf16):
            vectors = self.model.encode(
                list(texts), normalize_embeddings=True, batch_size=64, show_progress_bar=False
            )
        return np.asarray(vectors, dtype=np.float32)


def snippet_text(s: Snippet) -> str:
    return f"{s.prompt} {s.completion}"


@dataclass
class SentenceSimilarity:
    """Cosine similarity of the completion (and the whole snippet) to the original's must
    stay at or above `min_similarity`."""

    encoder: Any
    min_similarity: float = 0.8
    name: str = "similarity"
    _cache: dict[str, np.ndarray] = field(default_factory=dict, repr=False)

    def similarities(self, original: Snippet, snippets: Sequence[Snippet]) -> np.ndarray:
        key = snippet_text(original)
        if key not in self._cache:
            self._cache = {key: self.encoder.encode([original.completion, key])}
        base = self._cache[key]  # (2, C)
        completions = self.encoder.encode([s.completion for s in snippets])
        wholes = self.encoder.encode([snippet_text(s) for s in snippets])
        return np.minimum(completions @ base[0], wholes @ base[1])

    def check(self, original: Snippet, candidates: Sequence[Candidate]) -> list[bool]:
        if not candidates:
            return []
        sims = self.similarities(original, [c.snippet for c in candidates])
        return [bool(s >= self.min_similarity) for s in sims]
