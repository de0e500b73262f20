"""A binary snippet classifier around any Hugging Face sequence-classification model.

The prompt and completion are encoded as a text pair (`[CLS] prompt [SEP] completion
[SEP]` for BERT-style models).  `score` returns the probability of the positive class
("injurious" for the default task); the filter accepts a snippet when its score is below
`threshold`.  Scoring is batched over length-sorted buckets so padding is small, runs
under `torch.inference_mode`, and uses bf16 autocast on a GPU.
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

META_FILE = "highstakes.json"
POSITIVE_INDEX = 1  # label id of the positive ("yes", injurious) class


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

    def save(self, folder: str | Path, light: bool = True) -> Path:
        """Save in Hugging Face format plus `highstakes.json` (threshold, metadata) and, with
        `light`, a TorchScript copy for fast command-line scoring (`models.light`)."""
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
        if light:
            from highstakes.models.light import export_torchscript

            export_torchscript(folder, self.max_length)
        return folder

    # ---- encoding and scoring -----------------------------------------------------------
    def encode(self, snippets: Sequence[Snippet], padding: bool = True) -> Any:
        """Tokenize snippets as (prompt, completion) pairs, truncating the prompt first."""
        return self.tokenizer(
            [s.prompt for s in snippets],
            [s.completion for s in snippets],
            truncation="only_first" if self.max_length else False,
            max_length=self.max_length,
            padding=padding,
            return_tensors="pt" if padding else None,
        )

    def logits(self, batch: dict[str, torch.Tensor], fast: bool = False) -> torch.Tensor:
        """Forward one padded batch; (B, n_labels) float32 logits.  bf16 autocast on a GPU
        always, and on a CPU with native bf16 when `fast` (about 1.7x faster on 2 cores,
        probabilities within ~1e-3 of fp32): for interactive menus, not for measurement."""
        batch = {k: v.to(self.device) for k, v in batch.items()}
        if self.device.type == "cuda" or (fast and bf16_is_fast(self.device)):
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
    ) -> np.ndarray:
        """Probability of the positive class for each snippet, in input order."""
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
            probs = torch.softmax(self.logits(batch, fast), dim=-1)[:, POSITIVE_INDEX]
            out[idx] = probs.cpu().numpy()
            if on_batch:
                on_batch(len(idx))
        return out

    def score_one(self, prompt: str, completion: str) -> float:
        return float(self.score([Snippet(prompt, completion)])[0])

    def flags(self, scores: np.ndarray) -> np.ndarray:
        """True where a snippet is flagged (score at or above the threshold)."""
        return np.asarray(scores) >= self.threshold
