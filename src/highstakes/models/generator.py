"""A causal language model for story completions, paraphrases, word proposals and fluency.

Loads any Hugging Face causal LM (folder or hub id) or the embedded SmolLM2 GGUF file.
De-quantizing GGUF takes ~15 s, so the first load saves a safetensors copy under the
cache folder ($HIGHSTAKES_CACHE, default ~/.cache/highstakes) and later loads read that.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from highstakes.models.classifier import bf16_is_fast, pick_device
from highstakes.models.embedded import ModelRef, resolve
from highstakes.models.saved import cache_root

log = logging.getLogger(__name__)

SENTENCE_END = re.compile(r"^(.+?[.!?][\"”’')]*)(?:\s|$)", re.S)


def _load(ref: ModelRef) -> tuple[Any, Any]:
    if ref.gguf_file is None:
        return AutoTokenizer.from_pretrained(ref.path), AutoModelForCausalLM.from_pretrained(
            ref.path
        )
    cached = cache_root() / Path(ref.gguf_file).stem
    if (cached / "config.json").exists():
        return AutoTokenizer.from_pretrained(cached), AutoModelForCausalLM.from_pretrained(cached)
    log.info("de-quantizing %s (first load only)", ref.gguf_file)
    tokenizer = AutoTokenizer.from_pretrained(ref.path, gguf_file=ref.gguf_file)
    model = AutoModelForCausalLM.from_pretrained(ref.path, gguf_file=ref.gguf_file)
    try:  # a failed cache write only costs the next load some seconds
        cached.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=cached.parent, prefix=".tmp-"))
        plain = _without_gguf(model)
        plain.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        os.replace(tmp, cached)
    except OSError as e:
        log.warning("could not cache the de-quantized model at %s: %s", cached, e)
        shutil.rmtree(tmp, ignore_errors=True)
    return tokenizer, model


def _without_gguf(model: Any) -> Any:
    """A copy of a GGUF-loaded model that `save_pretrained` accepts (same weights)."""
    config = model.config.__class__.from_dict(
        {k: v for k, v in model.config.to_dict().items() if k != "quantization_config"}
    )
    plain = AutoModelForCausalLM.from_config(config)
    plain.load_state_dict(model.state_dict())
    return plain


class CausalLM:
    """A loaded causal LM with the few operations highstakes needs."""

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        device: str | torch.device | None = None,
        dtype: str = "auto",
    ) -> None:
        self.device = pick_device(str(device) if device else None)
        # bf16 where the hardware runs it natively: halves the cost of proposals, fluency
        # checks and sampling on a 2-core AVX512-BF16 CPU; log-probs move by ~0.01 nats.
        use_bf16 = dtype == "bfloat16" or (dtype == "auto" and bf16_is_fast(self.device))
        self.dtype = torch.bfloat16 if use_bf16 else torch.float32
        self.model = model.to(self.device, dtype=self.dtype).eval()
        self.tokenizer = tokenizer
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token

    @classmethod
    def from_pretrained(
        cls, name: str = "embedded-smollm2", device: str | None = None, dtype: str = "auto"
    ) -> CausalLM:
        """`dtype`: "auto" (bf16 where fast, else float32), "float32" or "bfloat16"."""
        tokenizer, model = _load(resolve(name))
        return cls(model, tokenizer, device, dtype)

    @torch.inference_mode()
    def log_likelihood(
        self, texts: Sequence[str], contexts: Sequence[str] | None = None, batch_size: int = 16
    ) -> np.ndarray:
        """Sum of log p(token) over each text's tokens, given its context (if any)."""
        contexts = contexts or [""] * len(texts)
        out = np.zeros(len(texts))
        for start in range(0, len(texts), batch_size):
            ctx_ids = [self._ids(c) for c in contexts[start : start + batch_size]]
            txt_ids = [
                self._ids(t if not c else " " + t)
                for c, t in zip(
                    contexts[start : start + batch_size],
                    texts[start : start + batch_size],
                    strict=True,
                )
            ]
            out[start : start + len(txt_ids)] = self._sum_logprobs(ctx_ids, txt_ids)
        return out

    def _ids(self, text: str) -> list[int]:
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def _sum_logprobs(self, ctx_ids: list[list[int]], txt_ids: list[list[int]]) -> np.ndarray:
        bos = self.tokenizer.bos_token_id
        seqs = [
            ([bos] if bos is not None and not c else []) + c + t
            for c, t in zip(ctx_ids, txt_ids, strict=True)
        ]
        width = max(len(s) for s in seqs)
        pad = self.tokenizer.pad_token_id
        ids = torch.full((len(seqs), width), pad, dtype=torch.long)
        mask = torch.zeros((len(seqs), width), dtype=torch.long)
        for i, s in enumerate(seqs):
            ids[i, : len(s)] = torch.tensor(s)
            mask[i, : len(s)] = 1
        logits = self.model(
            input_ids=ids.to(self.device), attention_mask=mask.to(self.device)
        ).logits
        logprobs = torch.log_softmax(logits[:, :-1].float(), dim=-1)  # (B, T-1, V)
        token_lp = logprobs.gather(-1, ids[:, 1:, None].to(self.device))[..., 0].cpu()
        out = np.zeros(len(seqs))
        for i, (s, t) in enumerate(zip(seqs, txt_ids, strict=True)):
            out[i] = float(token_lp[i, len(s) - 1 - len(t) : len(s) - 1].sum())
        return out

    @torch.inference_mode()
    def sample_sentences(
        self,
        prompts: Sequence[str],
        n: int = 1,
        max_new_tokens: int = 40,
        temperature: float = 0.9,
        top_p: float = 0.95,
        seed: int | None = None,
    ) -> list[list[str]]:
        """For each prompt, up to `n` continuations cut at the first sentence end."""
        if seed is not None:
            torch.manual_seed(seed)
        self.tokenizer.padding_side = "left"
        results: list[list[str]] = []
        for prompt in prompts:
            enc = self.tokenizer([prompt.rstrip() + " "] * n, return_tensors="pt").to(self.device)
            out = self.model.generate(
                **enc,
                max_new_tokens=max_new_tokens,
                do_sample=True,
                temperature=temperature,
                top_p=top_p,
                pad_token_id=self.tokenizer.pad_token_id,
            )
            texts = self.tokenizer.batch_decode(
                out[:, enc["input_ids"].shape[1] :], skip_special_tokens=True
            )
            results.append([s for s in (first_sentence(t) for t in texts) if s])
        return results


def first_sentence(text: str) -> str | None:
    """The first complete sentence of a generated text, or None if there is none."""
    line = text.strip().split("\n")[0]
    m = SENTENCE_END.match(line)
    return m.group(1).strip() if m and len(m.group(1).split()) >= 3 else None
