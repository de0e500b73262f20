"""In-process backends: a Hugging Face causal LM as generator, a `Classifier` as scorer.

Both count the tokens they process so the filter can estimate FLOPs, and expose their
matmul parameter count (`matmul_parameters`).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from transformers import StoppingCriteria, StoppingCriteriaList

from highstakes.data.records import Snippet
from highstakes.filtering.base import Usage
from highstakes.models.classifier import Classifier
from highstakes.models.generator import SENTENCE_END, CausalLM, first_sentence


def matmul_parameters(model: torch.nn.Module) -> int:
    """Parameters that take part in a matrix multiply for every token.

    Embedding tables are lookups, not multiplies, so they are left out, except a table
    tied to the output projection (SmolLM2's), which does a full multiply per token.
    For all-MiniLM-L6-v2 this drops about half the 22M (the 30k x 384 word table).
    """
    # Hugging Face models have get_output_embeddings; a plain module has no tied table.
    get_output = getattr(model, "get_output_embeddings", None)
    output_weight = getattr(get_output() if callable(get_output) else None, "weight", None)
    seen: set[int] = set()
    total = 0
    for module in model.modules():
        for p in module.parameters(recurse=False):
            if id(p) in seen:
                continue
            seen.add(id(p))
            if isinstance(module, torch.nn.Embedding) and p is not output_weight:
                continue
            total += p.numel()
    return total


def sentence_complete(text: str) -> bool:
    """Whether a generated text already holds its whole first sentence: a line break, or a
    sentence end followed by a space (the next sentence has begun)."""
    stripped = text.lstrip()
    if "\n" in stripped:
        return True
    m = SENTENCE_END.match(stripped)
    return m is not None and m.end() > m.end(1)


class _SentenceStop(StoppingCriteria):
    """Stops each sequence once its first sentence is complete or it emitted EOS, and
    remembers at which step, so the tokens really generated can be counted."""

    def __init__(self, tokenizer: Any, prompt_width: int, batch: int) -> None:
        self.tokenizer = tokenizer
        self.prompt_width = prompt_width
        self.done_at = np.zeros(batch, dtype=np.int64)  # 0: still running

    def __call__(self, input_ids: torch.LongTensor, scores: Any, **kwargs: Any) -> torch.BoolTensor:
        new = input_ids[:, self.prompt_width :]  # (B, steps so far)
        step = new.shape[1]
        texts = self.tokenizer.batch_decode(new, skip_special_tokens=True)
        eos = self.tokenizer.eos_token_id
        for i, text in enumerate(texts):
            if self.done_at[i] == 0 and (int(new[i, -1]) == eos or sentence_complete(text)):
                self.done_at[i] = step
        done = torch.from_numpy(self.done_at > 0).to(input_ids.device)
        return done  # type: ignore[return-value]

    def n_generated(self, steps: int) -> int:
        """Tokens generated over the batch, not counting padding after a sequence ended."""
        return int(np.where(self.done_at > 0, self.done_at, steps).sum())


class LocalGenerator:
    """A Hugging Face causal LM in this process (default: the embedded SmolLM2-135M).

    Samples for all prompts are generated together, `batch_size` sequences per forward
    pass, each stopping at the end of its first sentence.
    """

    def __init__(
        self,
        lm: CausalLM,
        name: str = "local",
        max_new_tokens: int = 40,
        temperature: float = 0.9,
        top_p: float = 0.95,
        batch_size: int = 32,
    ) -> None:
        self.lm = lm
        self.name = name
        self.max_new_tokens = max_new_tokens
        self.temperature = temperature
        self.top_p = top_p
        self.batch_size = batch_size
        self.n_parameters: int | None = matmul_parameters(lm.model)
        self.usage = Usage()

    @classmethod
    def from_pretrained(
        cls, name: str = "embedded-smollm2", device: str | None = None, **kwargs: Any
    ) -> LocalGenerator:
        return cls(CausalLM.from_pretrained(name, device=device), name=name, **kwargs)

    def sample(self, prompts: Sequence[str], n: int, seed: int | None = None) -> list[list[str]]:
        if seed is not None:
            torch.manual_seed(seed)
        t0 = time.perf_counter()
        # No trailing space after the prompt: BPE vocabularies put the space at the start
        # of the next word's token, as `CausalLM.log_likelihood` also assumes.
        flat = [p.rstrip() for p in prompts for _ in range(n)]
        texts: list[str] = []
        for start in range(0, len(flat), self.batch_size):
            texts.extend(self._generate(flat[start : start + self.batch_size]))
        self.usage.n_calls += 1
        self.usage.seconds += time.perf_counter() - t0
        sentences = [first_sentence(t) or "" for t in texts]
        return [sentences[i * n : (i + 1) * n] for i in range(len(prompts))]

    @torch.inference_mode()
    def _generate(self, prompts: list[str]) -> list[str]:
        tokenizer = self.lm.tokenizer
        tokenizer.padding_side = "left"  # generation continues from the right edge
        enc = tokenizer(prompts, return_tensors="pt", padding=True).to(self.lm.device)
        width = enc["input_ids"].shape[1]
        stop = _SentenceStop(tokenizer, width, len(prompts))
        out = self.lm.model.generate(
            **enc,
            max_new_tokens=self.max_new_tokens,
            do_sample=True,
            temperature=self.temperature,
            top_p=self.top_p,
            pad_token_id=tokenizer.pad_token_id,
            stopping_criteria=StoppingCriteriaList([stop]),
        )
        new = out[:, width:]  # (B, steps)
        self.usage.n_input_tokens += int(enc["attention_mask"].sum())
        self.usage.n_generated_tokens += stop.n_generated(new.shape[1])
        return list(tokenizer.batch_decode(new, skip_special_tokens=True))


class ClassifierScorer:
    """A loaded `Classifier` as the filter's scorer, counting the tokens it reads."""

    def __init__(self, classifier: Classifier, batch_size: int = 64) -> None:
        self.classifier = classifier
        self.batch_size = batch_size
        self.n_parameters: int | None = matmul_parameters(classifier.model)
        self.usage = Usage()

    @property
    def threshold(self) -> float:
        return self.classifier.threshold

    def score(self, snippets: Sequence[Snippet]) -> np.ndarray:
        t0 = time.perf_counter()
        scores = self.classifier.score(snippets, batch_size=self.batch_size)
        self.usage.seconds += time.perf_counter() - t0
        self.usage.n_calls += 1
        encoded = self.classifier.encode(snippets, padding=False)
        self.usage.n_input_tokens += sum(len(ids) for ids in encoded["input_ids"])
        return scores
