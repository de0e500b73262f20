"""Word proposals from a masked language model, as in BERT-Attack (Li et al., 2020):
mask the word (or a gap) and take the model's top predictions for that slot.

The seed project's substitution menu drew its candidates this way.  Any Hugging Face
masked LM works (e.g. `roberta-large` with hub access); only single-token words are
proposed.
"""

from __future__ import annotations

from typing import Any

import torch

from highstakes.attacks.candidates.base import EditKind, Proposal, whole_word_vocab
from highstakes.attacks.text import Field, words_of
from highstakes.data.records import Snippet


class MaskedLanguageModelProposals:
    name = "mlm"

    def __init__(self, model: Any, tokenizer: Any) -> None:
        if tokenizer.mask_token is None:
            raise ValueError("this tokenizer has no mask token: not a masked language model")
        self.model = model.eval()
        self.tokenizer = tokenizer
        vocab = whole_word_vocab(tokenizer)
        self._ids = torch.tensor(sorted(vocab))
        self._words = vocab

    @classmethod
    def from_pretrained(cls, name: str) -> MaskedLanguageModelProposals:
        from transformers import AutoModelForMaskedLM, AutoTokenizer

        return cls(AutoModelForMaskedLM.from_pretrained(name), AutoTokenizer.from_pretrained(name))

    @torch.inference_mode()
    def propose(
        self, snippet: Snippet, field: Field, index: int, kind: EditKind, k: int
    ) -> list[Proposal]:
        text = getattr(snippet, field)
        words = words_of(text, field)
        mask = self.tokenizer.mask_token
        if kind == "replace":
            w = words[index]
            masked = text[: w.start] + mask + text[w.end :]
            original = w.text.lower()
        else:
            at = words[index].start if index < len(words) else len(text)
            masked = text[:at] + mask + " " + text[at:]
            original = None
        other = snippet.completion if field == "prompt" else snippet.prompt
        pair = (masked, other) if field == "prompt" else (other, masked)
        enc = self.tokenizer(*pair, return_tensors="pt", truncation=True, max_length=256)
        position = (enc["input_ids"][0] == self.tokenizer.mask_token_id).nonzero()
        if position.numel() == 0:
            return []
        logits = self.model(**enc).logits[0, int(position[0, 0])]
        lp = torch.log_softmax(logits.float(), -1)[self._ids]
        out: list[Proposal] = []
        for i in torch.argsort(lp, descending=True)[: k * 3].tolist():
            word = self._words[int(self._ids[i])]
            if word.lower() != original and all(p.word.lower() != word.lower() for p in out):
                out.append(Proposal(word, float(lp[i]), self.name))
            if len(out) == k:
                break
        return out
