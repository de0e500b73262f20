"""Word proposals from a causal LM (default: the embedded SmolLM2), and the local
fluency score the fluency constraint uses.

The LM reads the snippet (prompt, then completion) once; its next-token distribution just
before a word gives likely words from the left context.  The best `pool` of those are
re-ranked by how likely the LM finds the candidate *together with the next few tokens of
the original text*, so the right context counts too (a word that fits the left context
but makes the rest of the sentence odd drops).  The LM's key/value cache of the text is
kept, so every word of the same text costs one small batched forward.
"""

from __future__ import annotations

import bisect
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from transformers import DynamicCache

from highstakes.attacks.candidates.base import EditKind, Proposal, whole_word_vocab
from highstakes.attacks.text import Field, words_of
from highstakes.data.records import Snippet
from highstakes.models.generator import CausalLM


@dataclass
class _Analysis:
    ids: list[int]  # token ids, position 0 is a start token
    ends: list[int]  # character end of each token in the text (0 for the start token)
    logprobs: torch.Tensor  # (T, V) next-token log-probabilities after each position
    past: list[tuple[torch.Tensor, torch.Tensor]]  # per layer (1, H, T, D) keys, values


@dataclass(frozen=True)
class _Slot:
    j: int  # index of the first token at the slot; the LM predicts it from position j - 1
    right: list[int]  # the original tokens that follow the slot
    original: str | None  # the word being replaced, if any


class LanguageModelProposals:
    name = "lm"

    def __init__(self, lm: CausalLM, pool: int = 16, right_window: int = 2, cache_size: int = 4):
        self.lm = lm
        self.pool = pool  # proposals re-ranked per request
        self.right_window = right_window  # original tokens after the word that are scored
        self._cache: OrderedDict[str, _Analysis] = OrderedDict()
        self._cache_size = cache_size
        vocab = whole_word_vocab(lm.tokenizer)
        self._word_ids = torch.tensor(sorted(vocab))
        self._words = vocab

    @torch.inference_mode()
    def _analyse(self, text: str) -> _Analysis:
        if text in self._cache:
            self._cache.move_to_end(text)
            return self._cache[text]
        tok = self.lm.tokenizer
        enc = tok(text, add_special_tokens=False, return_offsets_mapping=True)
        start = tok.bos_token_id if tok.bos_token_id is not None else tok.eos_token_id
        ids = [start, *enc["input_ids"]]
        out = self.lm.model(input_ids=torch.tensor([ids], device=self.lm.device), use_cache=True)
        past = [(layer.keys, layer.values) for layer in out.past_key_values.layers]
        ends = [0] + [e for _, e in enc["offset_mapping"]]
        analysis = _Analysis(ids, ends, torch.log_softmax(out.logits[0].float(), -1), past)
        self._cache[text] = analysis
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return analysis

    def _slot(
        self, a: _Analysis, snippet: Snippet, field: Field, index: int, kind: EditKind
    ) -> _Slot:
        base = 0 if field == "prompt" else len(snippet.prompt) + 1
        text = getattr(snippet, field)
        words = words_of(text, field)
        at_end = kind == "insert" and index == len(words)
        char = base + (len(text) if at_end else words[index].start)
        j = min(max(bisect.bisect_right(a.ends, char), 1), len(a.ids))
        if kind == "replace":
            r = bisect.bisect_right(a.ends, base + words[index].end)
            return _Slot(j, a.ids[r : r + self.right_window], words[index].text)
        return _Slot(j, a.ids[j : j + self.right_window], None)

    @torch.inference_mode()
    def _window_logprobs(
        self, a: _Analysis, slot: _Slot, words: Sequence[list[int]]
    ) -> torch.Tensor:
        """log p(word tokens, then the slot's right tokens | text before the slot), (N,)."""
        seqs = [w + slot.right for w in words]
        n, width = len(seqs), max(len(s) for s in seqs)
        ids = torch.zeros(n, width, dtype=torch.long)
        mask = torch.zeros(n, slot.j + width, dtype=torch.long)
        mask[:, : slot.j] = 1
        for i, s in enumerate(seqs):
            ids[i, : len(s)] = torch.tensor(s)
            mask[i, slot.j : slot.j + len(s)] = 1
        first = a.logprobs[slot.j - 1, ids[:, 0]]  # the first token comes from the cached pass
        if width == 1:
            return first
        cache = DynamicCache(
            ddp_cache_data=[
                (k[:, :, : slot.j].expand(n, -1, -1, -1), v[:, :, : slot.j].expand(n, -1, -1, -1))
                for k, v in a.past
            ]
        )
        logits = self.lm.model(
            input_ids=ids.to(self.lm.device), cache=cache, attention_mask=mask.to(self.lm.device)
        ).logits
        lp = torch.log_softmax(logits[:, :-1].float(), -1).cpu()  # (N, W-1, V)
        rest = lp.gather(-1, ids[:, 1:, None])[..., 0] * mask[:, slot.j + 1 :]
        return first + rest.sum(-1)

    def _text(self, snippet: Snippet) -> str:
        return snippet.prompt + " " + snippet.completion

    def propose(
        self, snippet: Snippet, field: Field, index: int, kind: EditKind, k: int
    ) -> list[Proposal]:
        a = self._analyse(self._text(snippet))
        slot = self._slot(a, snippet, field, index, kind)
        pool_lp = a.logprobs[slot.j - 1, self._word_ids]
        original = slot.original.lower() if slot.original else None
        chosen = [
            int(self._word_ids[i])
            for i in torch.argsort(pool_lp, descending=True)[: self.pool * 2].tolist()
            if self._words[int(self._word_ids[i])].lower() != original
        ][: self.pool]
        if not chosen:
            return []
        total = self._window_logprobs(a, slot, [[t] for t in chosen])
        best = torch.argsort(total, descending=True)[:k].tolist()
        return [Proposal(self._words[chosen[i]], float(total[i]), self.name) for i in best]

    def _encode_word(self, word: str, slot: _Slot) -> list[int]:
        text = " " + word if slot.j > 1 else word  # words after the first carry their space
        return list(self.lm.tokenizer(text, add_special_tokens=False)["input_ids"])

    def fluency_change(
        self, snippet: Snippet, field: Field, index: int, kind: EditKind, words: Sequence[str]
    ) -> list[float]:
        """For each word, log p(edited text) - log p(original text) over the slot and its
        right window: negative means the edit makes the text less likely."""
        a = self._analyse(self._text(snippet))
        slot = self._slot(a, snippet, field, index, kind)
        if slot.original is not None:
            base = float(
                self._window_logprobs(a, slot, [self._encode_word(slot.original, slot)])[0]
            )
        elif slot.right:  # an insertion: the original has only its right tokens at the slot
            shifted = _Slot(slot.j, slot.right[1:], None)
            base = float(self._window_logprobs(a, shifted, [slot.right[:1]])[0])
        else:
            base = 0.0
        new = self._window_logprobs(a, slot, [self._encode_word(w, slot) for w in words])
        return [float(x) - base for x in new]
