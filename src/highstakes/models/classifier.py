"""A binary snippet classifier around any Hugging Face sequence-classification model.

The prompt and completion are encoded as a text pair (`[CLS] prompt [SEP] completion
[SEP]` for BERT-style models), in the order a reader sees them (directional overrides
laid out) and after folding letters a reader cannot tell apart from plain ones (Cyrillic
and Greek look-alikes, full-width and other compatibility forms; see `normalize.py`).
`score` returns the probability of the positive class ("injurious" for the default
task); the filter accepts a snippet when its score is below `threshold`.  Scoring is
batched over length-sorted buckets so padding is small, runs under
`torch.inference_mode`, and uses bf16 autocast on a GPU.

`score_decisive` is the fast path with exact decisions: it scores in bf16 where the
hardware has native bf16 (a GPU, or a CPU with AVX512-BF16 or AMX), then rescores in fp32
every snippet whose fast score lies within `FAST_MARGINS["bf16"]` of the threshold in
log-odds.  A fast score further than the margin from the threshold is on the same side
as its fp32 score, so every flag decision is the one fp32 would make; only the scores
move, by the measured error.  Other CPUs score in fp32: int8 dynamic quantization was
measured and rejected (see `FAST_MARGINS`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from highstakes.data.records import Snippet
from highstakes.models.embedded import resolve
from highstakes.models.normalize import harden, reading_order
from highstakes.models.saved import META_FILE, POSITIVE_INDEX, log_odds

# How far from the threshold (in log-odds) a fast score is not trusted and the snippet is
# rescored in fp32.  bf16: the largest bf16-vs-fp32 difference measured on 1,024 demo
# snippets with the demo's trained MiniLM (runs/demo/round-0/model, AMD EPYC with
# AVX512-BF16) was 0.098 log-odds (99th percentile 0.039); 0.25 is 2.5x the largest and
# six times the 99th percentile.  int8 dynamic quantization (torch.ao, per-tensor) was
# measured on the same snippets and rejected: errors up to 4.1 log-odds (99th percentile
# 2.1), so a safe margin would rescore most snippets; without bf16 the fast path is fp32.
FAST_MARGINS = {"bf16": 0.25, "fp32": 0.0}


def bf16_is_fast(device: torch.device) -> bool:
    """Whether bf16 matmuls run natively here (any CUDA GPU with bf16; AVX512-BF16/AMX CPUs)."""
    if device.type == "cuda":
        return bool(torch.cuda.is_bf16_supported())
    return bool(torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported())


def pick_device(device: str | None = None) -> torch.device:
    if device:
        return torch.device(device)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


class Classifier:
    """A loaded classifier with its decision threshold and training metadata."""

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        threshold: float = 0.5,
        metadata: dict[str, Any] | None = None,
        max_length: int = 256,
        device: str | torch.device | None = None,
    ) -> None:
        self.device = pick_device(str(device) if device else None)
        self.model = model.to(self.device).eval()
        self.tokenizer = tokenizer
        if getattr(tokenizer, "backend_tokenizer", None) is not None:  # a fast tokenizer
            harden(tokenizer.backend_tokenizer)  # read look-alike letters as the letters
        self.threshold = float(threshold)
        self.metadata = dict(metadata or {})
        self.max_length = max_length

    # ---- loading and saving -------------------------------------------------------------
    @classmethod
    def from_pretrained(
        cls, name: str | Path, device: str | None = None, max_length: int = 256
    ) -> Classifier:
        """Load a saved highstakes classifier, a local HF folder, an alias or a hub id.

        A model without a classification head (like the embedded MiniLM) gets a fresh
        two-label head, to be trained.
        """
        ref = resolve(str(name))
        folder = Path(ref.path)
        meta: dict[str, Any] = {}
        if (folder / META_FILE).exists():
            meta = json.loads((folder / META_FILE).read_text())
        tokenizer = AutoTokenizer.from_pretrained(ref.path)
        model = AutoModelForSequenceClassification.from_pretrained(
            ref.path, num_labels=2, id2label={0: "no", 1: "yes"}, label2id={"no": 0, "yes": 1}
        )
        return cls(
            model,
            tokenizer,
            threshold=float(meta.get("threshold", 0.5)),
            metadata=meta.get("metadata", {}),
            max_length=int(meta.get("max_length", max_length)),
            device=device,
        )

    def save(self, folder: str | Path) -> Path:
        """Save in Hugging Face format plus `highstakes.json` (threshold, metadata)."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        self.model.save_pretrained(folder)
        self.tokenizer.save_pretrained(folder)
        meta = {
            "threshold": self.threshold,
            "max_length": self.max_length,
            "metadata": self.metadata,
        }
        (folder / META_FILE).write_text(json.dumps(meta, indent=2, default=str))
        return folder

    # ---- encoding and scoring -----------------------------------------------------------
    def encode(self, snippets: Sequence[Snippet], padding: bool = True) -> Any:
        """Tokenize snippets as (prompt, completion) pairs in reading order, truncating the
        prompt first."""
        return self.tokenizer(
            [reading_order(s.prompt) for s in snippets],
            [reading_order(s.completion) for s in snippets],
            truncation="only_first" if self.max_length else False,
            max_length=self.max_length,
            padding=padding,
            return_tensors="pt" if padding else None,
        )

    def fast_kind(self) -> str:
        """What `fast` scoring uses here: "bf16" (GPU, or a CPU with native bf16) or "fp32"."""
        return "bf16" if self.device.type == "cuda" or bf16_is_fast(self.device) else "fp32"

    def fast_margin(self) -> float:
        """Log-odds distance from the threshold within which a fast score is rescored."""
        return FAST_MARGINS[self.fast_kind()]

    def logits(
        self, batch: dict[str, torch.Tensor], fast: bool = False, kind: str | None = None
    ) -> torch.Tensor:
        """Forward one padded batch; (B, n_labels) float32 logits.  bf16 autocast on a GPU
        always, and on a CPU with native bf16 when `fast` (`kind` "bf16" forces it, for
        measurement; "fp32" turns it off)."""
        batch = {k: v.to(self.device) for k, v in batch.items()}
        kind = kind or (self.fast_kind() if fast else "fp32")
        if self.device.type == "cuda" or kind == "bf16":
            with torch.autocast(self.device.type, dtype=torch.bfloat16):
                return self.model(**batch).logits.float()
        return self.model(**batch).logits.float()

    @torch.inference_mode()
    def score(
        self,
        snippets: Sequence[Snippet],
        batch_size: int = 64,
        on_batch: Callable[[int], None] | None = None,
        fast: bool = False,
        kind: str | None = None,
    ) -> np.ndarray:
        """Probability of the positive class for each snippet, in input order.  `fast`
        scores are within the measured error of fp32's; see `score_decisive`."""
        if not snippets:
            return np.zeros(0, dtype=np.float64)
        self.model.eval()
        encoded = self.encode(snippets, padding=False)
        lengths = np.array([len(ids) for ids in encoded["input_ids"]])
        order = np.argsort(-lengths, kind="stable")  # longest first: memory peaks early
        out = np.empty(len(snippets), dtype=np.float64)
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            features = [{k: encoded[k][i] for k in encoded} for i in idx]
            batch = self.tokenizer.pad(features, return_tensors="pt")
            probs = torch.softmax(self.logits(batch, fast, kind), dim=-1)[:, POSITIVE_INDEX]
            out[idx] = probs.cpu().numpy()
            if on_batch:
                on_batch(len(idx))
        return out

    def score_decisive(
        self,
        snippets: Sequence[Snippet],
        batch_size: int = 64,
        threshold: float | None = None,
        on_batch: Callable[[int], None] | None = None,
        kind: str | None = None,
    ) -> tuple[np.ndarray, int]:
        """Fast scores whose flag decisions at `threshold` (default: the saved one) are the
        ones fp32 makes: every snippet whose fast score lies within the margin of the
        threshold is rescored in fp32.  Returns the scores and how many were rescored."""
        threshold = self.threshold if threshold is None else threshold
        kind = kind or self.fast_kind()
        scores = self.score(snippets, batch_size, on_batch, fast=True, kind=kind)
        distance = np.abs(log_odds(scores) - log_odds(threshold))
        near = np.flatnonzero(distance < FAST_MARGINS[kind])
        if near.size:
            scores[near] = self.score([snippets[int(i)] for i in near], batch_size)
        return scores, int(near.size)

    def score_one(self, prompt: str, completion: str) -> float:
        return float(self.score([Snippet(prompt, completion)])[0])

    def flags(self, scores: np.ndarray) -> np.ndarray:
        """True where a snippet is flagged (score at or above the threshold)."""
        return np.asarray(scores) >= self.threshold
