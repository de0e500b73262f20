"""Nearest neighbours of a word in the classifier's own input-embedding space.

Cheap (one matrix product) and aimed at the classifier: words it embeds alike are the
ones it may confuse.  Only replacements; a gap has no word to take neighbours of.
"""

from __future__ import annotations

import torch

from highstakes.attacks.candidates.base import EditKind, Proposal, whole_word_vocab
from highstakes.attacks.text import Field, words_of
from highstakes.data.records import Snippet
from highstakes.models.classifier import Classifier


class EmbeddingNeighbours:
    name = "embedding"

    def __init__(self, classifier: Classifier) -> None:
        self.classifier = classifier
        vocab = whole_word_vocab(classifier.tokenizer)
        self._ids = torch.tensor(list(vocab))
        self._words = list(vocab.values())
        weight = classifier.model.get_input_embeddings().weight.detach().float().cpu()
        self._matrix = torch.nn.functional.normalize(weight[self._ids], dim=-1)  # (V', C)
        self._weight = weight

    def _vector(self, word: str) -> torch.Tensor:
        ids = self.classifier.tokenizer(word, add_special_tokens=False)["input_ids"]
        return torch.nn.functional.normalize(self._weight[ids].mean(0), dim=-1)

    def propose(
        self, snippet: Snippet, field: Field, index: int, kind: EditKind, k: int
    ) -> list[Proposal]:
        if kind != "replace":
            return []
        original = words_of(getattr(snippet, field), field)[index].text
        if not original.isalpha():
            return []
        similarity = self._matrix @ self._vector(original)  # (V',)
        out: list[Proposal] = []
        for i in torch.topk(similarity, min(k * 3, len(self._words))).indices.tolist():
            word = self._words[i]
            if word.lower() == original.lower():
                continue
            word = word.capitalize() if original[0].isupper() else word
            if all(p.word.lower() != word.lower() for p in out):
                out.append(Proposal(word, float(similarity[i]), self.name))
            if len(out) == k:
                break
        return out
