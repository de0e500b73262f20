"""A light scorer for the command line: TorchScript model + `tokenizers`, no transformers.

Importing transformers costs ~3 s on two CPU cores, most of `highstakes score`'s wall
time for one snippet.  `Classifier.save` therefore also writes `scorer.pt`, a traced
copy of the model (eager attention, traced on a padded batch so the masking path is the
general one), which this module loads with torch alone.  Its scores match the full
model's to float precision; a model that cannot be traced simply has no `scorer.pt`.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

SCORER_FILE = "scorer.pt"


def export_torchscript(folder: Path, max_length: int) -> Path | None:
    """Trace the saved model in `folder` to `folder/scorer.pt`; None if it cannot be traced."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(folder)
        model = AutoModelForSequenceClassification.from_pretrained(
            folder, attn_implementation="eager"
        ).eval()
        example = tokenizer(
            ["A short prompt.", "A longer prompt with a few more words in it."],
            ["Short.", "And a completion."],
            padding=True,
            return_tensors="pt",
        )
        names = [n for n in ("input_ids", "attention_mask", "token_type_ids") if n in example]

        class Logits(torch.nn.Module):  # positional tensors in, (B, n_labels) logits out
            def __init__(self) -> None:
                super().__init__()
                self.model = model

            def forward(self, *args: torch.Tensor) -> torch.Tensor:
                return self.model(**dict(zip(names, args, strict=True))).logits

        with torch.inference_mode():
            traced = torch.jit.trace(Logits(), tuple(example[n] for n in names), strict=False)
        torch.jit.save(traced, str(folder / SCORER_FILE))
        (folder / "scorer.json").write_text(json.dumps({"inputs": names, "max_length": max_length}))
        return folder / SCORER_FILE
    except Exception as e:  # an exotic architecture: the full Classifier still works
        log.warning("no TorchScript scorer for %s: %s", folder, e)
        return None


class LightScorer:
    """Scores one snippet at a time from `scorer.pt` and `tokenizer.json`."""

    def __init__(self, folder: str | Path) -> None:
        import torch
        from tokenizers import Tokenizer

        folder = Path(folder)
        spec = json.loads((folder / "scorer.json").read_text())
        meta = json.loads((folder / "highstakes.json").read_text())
        self.inputs: list[str] = spec["inputs"]
        self.threshold = float(meta.get("threshold", 0.5))
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(int(spec["max_length"]), strategy="only_first")
        self.model: Any = torch.jit.load(str(folder / SCORER_FILE)).eval()
        self._torch = torch

    @staticmethod
    def available(folder: str | Path) -> bool:
        folder = Path(folder)
        return all(
            (folder / f).exists()
            for f in (SCORER_FILE, "scorer.json", "tokenizer.json", "highstakes.json")
        )

    def score_one(self, prompt: str, completion: str) -> float:
        torch = self._torch
        enc = self.tokenizer.encode(prompt, completion)
        values = {
            "input_ids": enc.ids,
            "attention_mask": enc.attention_mask,
            "token_type_ids": enc.type_ids,
        }
        args = tuple(torch.tensor([values[n]]) for n in self.inputs)
        with torch.inference_mode():
            logits = self.model(*args).float()
        return float(torch.softmax(logits, dim=-1)[0, 1])
