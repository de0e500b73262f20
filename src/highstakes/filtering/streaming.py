"""Streaming filtering: score each sample while it is generated, stop it once it crosses.

`StreamingSampler` is a plain sampling loop (KV cache, one token per step for a batch of
samples) that reads the head's block outputs from the same forward pass that yields the
next token's logits, so the head adds no LM compute: per token it adds the states to
running sums, takes a running maximum and one dot product.  A sample whose pooled
states score at or above the head's threshold (after `min_tokens` tokens) is dropped
from the batch at once, so rejected samples cost fewer tokens.  Accepted samples end
like `LocalGenerator`'s: at the first sentence end followed by a space, a line break or
EOS, or at `max_new_tokens`.  Blank tokens before the first word (SmolLM2 often starts
with a line break, which `first_sentence` strips) are left out of the mean and the
maximum, as they are left out of the text the head was trained on.

`streaming_filter.StreamingFilter` is the rejection sampler on top of it.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from highstakes.filtering.base import Usage
from highstakes.filtering.features import LayerTap, check_layer, is_blank
from highstakes.filtering.head import ProbeHead
from highstakes.filtering.local import matmul_parameters, sentence_complete
from highstakes.models.generator import CausalLM, first_sentence


@dataclass(frozen=True)
class StreamedSample:
    text: str  # the first sentence; "" when rejected or when no sentence was finished
    rejected: bool  # the head stopped it
    head_score: float | None  # the highest prefix score seen (None: no head, or unscored)
    n_tokens: int  # tokens generated for it
    prefix: str = ""  # what a rejected sample had written when the head stopped it


def top_p_sample(logits: torch.Tensor, temperature: float, top_p: float) -> torch.Tensor:
    """One token per row from the smallest set of tokens whose probability reaches top_p
    (Holtzman et al. 2020, nucleus sampling), at `temperature`.  (B, V) -> (B,)"""
    probs = torch.softmax(logits.float() / temperature, dim=-1)
    sorted_probs, order = probs.sort(dim=-1, descending=True)
    outside = sorted_probs.cumsum(dim=-1) - sorted_probs > top_p  # keep the one that crosses
    sorted_probs = sorted_probs.masked_fill(outside, 0.0)
    choice = torch.multinomial(sorted_probs, 1)  # multinomial renormalizes
    return order.gather(-1, choice)[:, 0]


class StreamingSampler:
    """Samples first sentences, scoring each prefix with `head` (None: no filtering,
    the same loop, for a like-for-like baseline)."""

    def __init__(
        self,
        lm: CausalLM,
        head: ProbeHead | None = None,
        threshold: float | None = None,
        max_new_tokens: int = 40,
        temperature: float = 0.9,
        top_p: float = 0.95,
        batch_size: int = 32,
    ) -> None:
        if head is not None:
            for layer in head.layers:
                check_layer(lm, layer)
            hidden = int(lm.model.config.hidden_size)
            if head.n_features != head.features_for(hidden):
                raise ValueError(
                    f"the head reads {head.n_features} features but this LM's states give "
                    f"{head.features_for(hidden)}: it was trained for another model"
                )
        self.lm = lm
        self.head = head
        self.threshold = (head.threshold_ if head else 1.0) if threshold is None else threshold
        self.max_new_tokens = max_new_tokens
        self.temperature = temperature
        self.top_p = top_p
        self.batch_size = batch_size
        self.n_parameters: int | None = matmul_parameters(lm.model)
        self.usage = Usage()  # the generator's work, head time excluded
        self.head_usage = Usage()  # the head's: one scored prefix is one token read
        self.head_n_parameters: int | None = (head.n_features + 1) if head else None
        params = inspect.signature(lm.model.forward).parameters
        # transformers 5 renamed past_key_values to cache
        self._cache_arg = "cache" if "cache" in params else "past_key_values"
        if head is not None:
            self._weight = torch.tensor(head.weight_, dtype=torch.float32, device=lm.device)

    def sample(self, prompts: Sequence[str], seed: int | None = None) -> list[StreamedSample]:
        """One sample per entry of `prompts` (repeat a prompt for several samples)."""
        if seed is not None:
            torch.manual_seed(seed)
        t0 = time.perf_counter()
        head_before = self.head_usage.seconds
        out: list[StreamedSample] = []
        for start in range(0, len(prompts), self.batch_size):
            out.extend(self._batch([p.rstrip() for p in prompts[start : start + self.batch_size]]))
        self.usage.n_calls += 1
        self.usage.seconds += time.perf_counter() - t0 - (self.head_usage.seconds - head_before)
        return out

    @torch.inference_mode()
    def _batch(self, prompts: list[str]) -> list[StreamedSample]:
        if self.head is None:
            return self._loop(prompts, None)
        tap = LayerTap(self.lm.model, self.head.layers)
        with tap.attached():
            return self._loop(prompts, tap)

    def _loop(self, prompts: list[str], tap: LayerTap | None) -> list[StreamedSample]:
        tok, device, model = self.lm.tokenizer, self.lm.device, self.lm.model
        tok.padding_side = "left"  # every row's next token goes in the last column
        enc = tok(prompts, return_tensors="pt", padding=True).to(device)
        mask = enc["attention_mask"]
        positions = (mask.cumsum(-1) - 1).clamp(min=0)  # left padding: real positions
        out = model(
            input_ids=enc["input_ids"], attention_mask=mask, position_ids=positions,
            use_cache=True, logits_to_keep=1,
        )  # fmt: skip
        self.usage.n_input_tokens += int(mask.sum())
        cache = getattr(out, "cache", None) or out.past_key_values
        n_layers = max(len(self._layers), 1)
        state = _Rows(len(prompts), n_layers, self.lm.model.config.hidden_size, device)
        logits = out.logits[:, -1]
        for step in range(self.max_new_tokens):
            tokens = top_p_sample(logits, self.temperature, self.top_p)
            self.usage.n_generated_tokens += len(tokens)
            state.append(tokens.tolist(), self._blank)
            self._finish_complete(state, last_step=step == self.max_new_tokens - 1)
            if not state.running:
                break
            keep = torch.tensor(state.running_positions(), device=device)
            if len(keep) < state.width:  # drop finished rows: they cost nothing more
                cache.batch_select_indices(keep)
                mask, positions, tokens = mask[keep], positions[keep], tokens[keep]
                state.compact()
            mask = torch.cat([mask, mask.new_ones((len(keep), 1))], dim=1)
            positions = positions[:, -1:] + 1
            out = model(
                input_ids=tokens[:, None], attention_mask=mask, position_ids=positions,
                use_cache=True, logits_to_keep=1, **{self._cache_arg: cache},
            )  # fmt: skip
            logits = out.logits[:, -1]
            if tap is not None:
                read = [tap.outputs[layer][:, -1] for layer in self._layers]  # the head's order
                self._score(state, torch.stack(read, 1))
        return state.results(self.lm.tokenizer)

    def _finish_complete(self, state: _Rows, last_step: bool) -> None:
        """Rows whose sentence is over (or that ran out of tokens) finish; a short
        sentence the head has not scored yet is scored whole first."""
        eos = self.lm.tokenizer.eos_token_id
        for row in list(state.running):
            tokens = state.tokens[row]
            text = self.lm.tokenizer.decode(tokens, skip_special_tokens=True)
            if tokens[-1] == eos or sentence_complete(text) or last_step:
                sentence = first_sentence(text) or ""
                if self.head is not None and sentence and state.count[row] < self._min_tokens:
                    if state.count[row] > 0:  # the whole short sentence, once
                        self._score_rows(state, [row])
                    if row not in state.running:
                        continue
                state.finish(row, sentence)

    def _blank(self, token: int) -> bool:
        return is_blank(self.lm.tokenizer, token)

    @property
    def _layers(self) -> list[int]:
        return self.head.layers if self.head else []

    @property
    def _min_tokens(self) -> int:
        return self.head.min_tokens if self.head else 1

    def _score(self, state: _Rows, hidden: torch.Tensor) -> None:
        """Add this step's states (B_running, layers, D) to the running sums and maxima,
        score the rows with enough tokens, and reject those at or above the threshold."""
        t0 = time.perf_counter()
        state.add(hidden.float())
        rows = [r for r in state.running if state.count[r] >= self._min_tokens]
        self.head_usage.seconds += time.perf_counter() - t0
        if rows:
            self._score_rows(state, rows)

    def _score_rows(self, state: _Rows, rows: list[int]) -> None:
        assert self.head is not None
        t0 = time.perf_counter()
        positions = [state.position[r] for r in rows]
        counts = torch.tensor([state.count[r] for r in rows], device=state.sums.device)
        means = state.sums[positions] / counts[:, None, None]  # (R, layers, D)
        if self.head.pooling == "mean+max":  # per layer: mean, then max (pooled_prefixes)
            features = torch.stack([means, state.maxes[positions]], 2).flatten(1)
        else:
            features = means.flatten(1)
        logits = features @ self._weight + self.head.bias_
        scores = torch.sigmoid(logits).tolist()
        for row, score in zip(rows, scores, strict=True):
            state.best[row] = max(state.best[row] or 0.0, score)
            if score >= self.threshold:
                state.reject(row)
        self.head_usage.n_calls += 1
        self.head_usage.n_input_tokens += len(rows)
        self.head_usage.seconds += time.perf_counter() - t0


class _Rows:
    """Book-keeping of one batch: tokens per row, the running rows and where each sits in
    the (shrinking) batch tensors, the head's running sums and maxima and best scores."""

    def __init__(self, n: int, n_layers: int, hidden: int, device: torch.device) -> None:
        self.tokens: list[list[int]] = [[] for _ in range(n)]
        self.running: list[int] = list(range(n))
        self.position = {r: r for r in range(n)}  # row -> index in the current batch
        self.width = n
        self.sums = torch.zeros((n, n_layers, hidden), device=device)  # (B_running, L, D)
        self.maxes = torch.full((n, n_layers, hidden), -torch.inf, device=device)
        self.count = [0] * n  # tokens in the running mean
        self.started = [False] * n  # a non-blank token has been written
        self.best: list[float | None] = [None] * n
        self.text = [""] * n
        self.rejected = [False] * n

    def append(self, tokens: list[int], blank: Callable[[int], bool]) -> None:
        for row in self.running:
            token = tokens[self.position[row]]
            self.tokens[row].append(token)
            self.started[row] = self.started[row] or not blank(token)

    def add(self, hidden: torch.Tensor) -> None:
        """Add the running rows' states (B_running, L, D), once their first word has begun."""
        started = [self.started[r] for r in self.running]
        mask = torch.tensor(started, device=hidden.device)[:, None, None]
        self.sums += hidden * mask
        self.maxes = torch.where(mask, torch.maximum(self.maxes, hidden), self.maxes)
        for row, on in zip(self.running, started, strict=True):
            self.count[row] += on

    def finish(self, row: int, text: str) -> None:
        self.text[row] = text
        self.running.remove(row)

    def reject(self, row: int) -> None:
        self.rejected[row] = True
        self.running.remove(row)

    def running_positions(self) -> list[int]:
        return [self.position[r] for r in self.running]

    def compact(self) -> None:
        keep = self.running_positions()
        self.sums, self.maxes = self.sums[keep], self.maxes[keep]
        self.position = {r: i for i, r in enumerate(self.running)}
        self.width = len(self.running)

    def results(self, tokenizer: Any) -> list[StreamedSample]:
        return [
            StreamedSample(t, rej, best, len(tokens), tokenizer.decode(tokens) if rej else "")
            for t, rej, best, tokens in zip(
                self.text, self.rejected, self.best, self.tokens, strict=True
            )
        ]
