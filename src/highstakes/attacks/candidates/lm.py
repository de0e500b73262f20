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

# Rows of next-token logits normalised this many at a time: a whole (T, V) float copy
# does not fit the CPU's cache, and normalising it in one go took 3x as long (50 vs 16 ms
# for 240 rows of SmolLM2's 49,152-token vocabulary, one core).
SOFTMAX_CHUNK = 16


def logsumexp_rows(logits: torch.Tensor) -> torch.Tensor:
    """log sum exp of each row of (M, V) `logits` in float32, (M,)."""
    out = torch.empty(len(logits), dtype=torch.float32, device=logits.device)
    for i in range(0, len(logits), SOFTMAX_CHUNK):
        out[i : i + SOFTMAX_CHUNK] = torch.logsumexp(logits[i : i + SOFTMAX_CHUNK].float(), -1)
    return out


def log_softmax_rows(logits: torch.Tensor) -> torch.Tensor:
    """float32 log-softmax of each row of (T, V) `logits`, `SOFTMAX_CHUNK` rows at a time."""
    out = torch.empty(logits.shape, dtype=torch.float32, device=logits.device)
    for i in range(0, len(logits), SOFTMAX_CHUNK):
        out[i : i + SOFTMAX_CHUNK] = torch.log_softmax(logits[i : i + SOFTMAX_CHUNK].float(), -1)
    return out


@dataclass
class _Analysis:
    ids: list[int]  # token ids, position 0 is a start token
    ends: list[int]  # character end of each token in the text (0 for the start token)
    logprobs: torch.Tensor  # (T, V) next-token log-probabilities after each position
    past: list[tuple[torch.Tensor, torch.Tensor]]  # per layer (1, H, T, D) keys, values


@dataclass(frozen=True, slots=True)
class FluencyChange:
    """How an edit changes the LM's log-likelihood of the text, in nats, split in two: the
    new words' own (`words`: a rarer synonym loses here, and an insertion always does) and
    the original's next tokens read after them (`right`: a word that breaks the sentence
    makes what follows it unlikely, so it loses here)."""

    words: float
    right: float

    @property
    def total(self) -> float:
        return self.words + self.right


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

    def forget(self) -> None:
        """Drop the kept readings of texts: the next request reads its text afresh."""
        self._cache.clear()

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
        analysis = _Analysis(ids, ends, log_softmax_rows(out.logits[0]), past)
        self._cache[text] = analysis
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return analysis

    def _slot(
        self,
        a: _Analysis,
        snippet: Snippet,
        field: Field,
        index: int,
        kind: EditKind,
        span: int = 1,
        right_window: int | None = None,
    ) -> _Slot:
        """Word `index` (and the `span` - 1 after it) or gap `index`, with the original
        tokens that follow it."""
        window = self.right_window if right_window is None else right_window
        base = 0 if field == "prompt" else len(snippet.prompt) + 1
        text = getattr(snippet, field)
        words = words_of(text, field)
        at_end = kind == "insert" and index == len(words)
        char = base + (len(text) if at_end else words[index].start)
        j = min(max(bisect.bisect_right(a.ends, char), 1), len(a.ids))
        if kind == "replace":
            last = words[index + span - 1]
            r = bisect.bisect_right(a.ends, base + last.end)
            return _Slot(j, a.ids[r : r + window], text[words[index].start : last.end])
        return _Slot(j, a.ids[j : j + window], None)

    @torch.inference_mode()
    def _token_logprobs(
        self, a: _Analysis, j: int, seqs: Sequence[list[int]], context: int | None = None
    ) -> torch.Tensor:
        """log p of each token of each sequence placed after the text's first `j` tokens,
        (N, W) with 0 past a sequence's end (and for an empty one).  With `context`, the
        sequences attend to only the last `context` of those tokens (the cached keys keep
        their positions): the batch copies N times less of the cache."""
        # the start token stays: the LM leans on it (an "attention sink", Xiao et al., 2024)
        start = 0 if context is None else max(0, j - context)
        keep = [0, *range(max(start, 1), j)] if start > 0 else list(range(j))
        n, width = len(seqs), max(1, max(len(s) for s in seqs))
        ids = torch.zeros(n, width, dtype=torch.long)
        mask = torch.zeros(n, len(keep) + width, dtype=torch.long)
        mask[:, : len(keep)] = 1
        for i, s in enumerate(seqs):
            ids[i, : len(s)] = torch.tensor(s, dtype=torch.long)
            mask[i, len(keep) : len(keep) + len(s)] = 1
        out = torch.zeros(n, width)
        out[:, 0] = a.logprobs[j - 1, ids[:, 0]]  # the first token comes from the cached pass
        if width > 1:
            kept = torch.tensor(keep)
            cache = DynamicCache(
                ddp_cache_data=[
                    (
                        k[:, :, kept].expand(n, -1, -1, -1),
                        v[:, :, kept].expand(n, -1, -1, -1),
                    )
                    for k, v in a.past
                ]
            )
            positions = torch.arange(j, j + width).expand(n, -1)
            hidden = self.lm.model.base_model(
                input_ids=ids.to(self.lm.device),
                cache=cache,
                attention_mask=mask.to(self.lm.device),
                position_ids=positions.to(self.lm.device),
            ).last_hidden_state  # (N, W, C)
            # the output layer only where a next token is read: not after a sequence's
            # last token nor on padding (about a third of the rows here)
            wanted = (mask[:, len(keep) + 1 :] > 0).to(hidden.device)  # (N, W-1)
            head = self.lm.model.get_output_embeddings()
            logits = head(hidden[:, :-1][wanted])  # (M, V)
            targets = ids[:, 1:].to(hidden.device)[wanted]
            found = logits.gather(-1, targets[:, None])[:, 0].float() - logsumexp_rows(logits)
            out[:, 1:][wanted.cpu()] = found.cpu()
        return out * mask[:, len(keep) :]

    def _window_logprobs(
        self, a: _Analysis, slot: _Slot, words: Sequence[list[int]]
    ) -> torch.Tensor:
        """log p(word tokens, then the slot's right tokens | text before the slot), (N,)."""
        return self._token_logprobs(a, slot.j, [w + slot.right for w in words]).sum(-1)

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

    def span_fluency(
        self,
        snippet: Snippet,
        field: Field,
        index: int,
        kind: EditKind,
        texts: Sequence[str],
        span: int = 1,
        right_window: int = 8,
        left_window: int | None = None,
    ) -> list[FluencyChange]:
        """For each text put in place of words `index` .. `index + span - 1` (or inserted at
        gap `index`), how the edit changes the LM's log-likelihood against the original: of
        the new words themselves, and of the original's next `right_window` tokens read
        after them, with the `left_window` tokens before them as context (all, if None).
        All texts and the original go through in one batch."""
        if not texts:
            return []
        a = self._analyse(self._text(snippet))
        slot = self._slot(a, snippet, field, index, kind, span, right_window)
        original = self._encode_word(slot.original, slot) if slot.original is not None else []
        encoded = [original, *(self._encode_word(t, slot) for t in texts)]
        lp = self._token_logprobs(a, slot.j, [w + slot.right for w in encoded], left_window)
        own = [float(lp[i, : len(w)].sum()) for i, w in enumerate(encoded)]
        right = [float(lp[i, len(w) :].sum()) for i, w in enumerate(encoded)]
        return [FluencyChange(own[i] - own[0], right[i] - right[0]) for i in range(1, len(encoded))]
