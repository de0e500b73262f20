"""What benchmarks/gpu.py measures: the model shapes (DeBERTa-v3-large's and a tiny one for
the CPU), random length-sorted batches, and the FLOPs of one step at every padded length
(counted by `torch.utils.flop_counter`, with the CPU's attention kernels added)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode
from transformers import (
    BertConfig,
    DebertaV2Config,
    DebertaV2ForSequenceClassification,
    PreTrainedModel,
)


def attention_flops(query: tuple[int, ...], key: tuple[int, ...], value: tuple[int, ...]) -> int:
    """Scores and weighted sum: 2 * B*H*T*S*(d_qk + d_v) for (B, H, T, d) queries."""
    batch, heads, length, head_dim = query
    return 2 * batch * heads * length * key[-2] * (head_dim + value[-1])


# FlopCounterMode knows the CUDA attention kernels but not the one SDPA picks on a CPU;
# without these the tiny run would count no attention for BERT.  Backward: four products.
aten = torch.ops.aten
CPU_ATTENTION_FLOPS = {
    aten._scaled_dot_product_flash_attention_for_cpu: (
        lambda q, k, v, *_, out_shape=None, **__: attention_flops(q, k, v)
    ),
    aten._scaled_dot_product_flash_attention_for_cpu_backward: (
        lambda _, q, k, v, *__, out_shape=None, **___: 2 * attention_flops(q, k, v)
    ),
}


@dataclass
class Shape:
    layers: int
    hidden: int
    heads: int
    intermediate: int
    deberta_vocab: int
    bert_vocab: int

    def sizes(self) -> dict[str, int]:
        """The config fields both models take from the shape (512 positions, 2 labels)."""
        return {
            "hidden_size": self.hidden,
            "num_hidden_layers": self.layers,
            "num_attention_heads": self.heads,
            "intermediate_size": self.intermediate,
            "max_position_embeddings": 512,
            "num_labels": 2,
        }


LARGE = Shape(layers=24, hidden=1024, heads=16, intermediate=4096,
              deberta_vocab=128100, bert_vocab=30522)  # fmt: skip
TINY = Shape(layers=2, hidden=64, heads=2, intermediate=128, deberta_vocab=1000, bert_vocab=1000)


def deberta_config(shape: Shape, attention: str) -> DebertaV2Config:
    """microsoft/deberta-v3-large's config.json, with `shape`'s sizes."""
    fields: dict[str, Any] = {
        "vocab_size": shape.deberta_vocab,
        **shape.sizes(),
        "relative_attention": True,
        "position_buckets": 256,
        "pos_att_type": ["p2c", "c2p"],
        "norm_rel_ebd": "layer_norm",
        "share_att_key": True,
        "max_relative_positions": -1,
        "position_biased_input": False,
        "type_vocab_size": 0,
        "layer_norm_eps": 1e-7,
        "attn_implementation": attention,
    }  # as a dict: the config takes more fields than its type stubs list
    return DebertaV2Config(**fields)


def bert_config(shape: Shape) -> BertConfig:
    fields: dict[str, Any] = {
        "vocab_size": shape.bert_vocab,
        **shape.sizes(),
        "attn_implementation": "sdpa",
    }
    return BertConfig(**fields)


def build_deberta(shape: Shape, device: torch.device) -> tuple[PreTrainedModel, str]:
    """The DeBERTa model with SDPA if this transformers has it, else eager; and a note."""
    with torch.device(device):
        try:
            model = DebertaV2ForSequenceClassification(deberta_config(shape, "sdpa"))
            return model, "sdpa"
        except ValueError as error:  # transformers refuses sdpa for models without it
            first_sentence = str(error).split(". ")[0]
            model = DebertaV2ForSequenceClassification(deberta_config(shape, "eager"))
            return model, f"eager: SDPA refused by transformers ({first_sentence})"


@dataclass
class Batch:
    input_ids: torch.Tensor  # (B, T) int64, 0 = padding
    attention_mask: torch.Tensor  # (B, T) int64
    labels: torch.Tensor  # (B,) int64, random: only the training phase reads them
    n_tokens: int  # real tokens, padding excluded

    @property
    def padded_length(self) -> int:
        return int(self.input_ids.shape[1])


def make_batches(
    n_snippets: int, batch_size: int, vocab: int, lengths: tuple[int, int], seed: int,
    device: torch.device,
) -> list[Batch]:  # fmt: skip
    """Random snippets sorted by length into full batches, in a seeded shuffled order."""
    rng = np.random.default_rng(seed)
    n = max(batch_size, n_snippets - n_snippets % batch_size)
    snippet_lengths = np.sort(rng.integers(lengths[0], lengths[1] + 1, size=n))
    batches = []
    for start in range(0, n, batch_size):
        chunk = snippet_lengths[start : start + batch_size]
        width = int(chunk.max())
        mask = torch.from_numpy(np.arange(width)[None, :] < chunk[:, None]).long()
        ids = torch.from_numpy(rng.integers(1, vocab, size=(len(chunk), width))) * mask
        labels = torch.from_numpy(rng.integers(0, 2, size=len(chunk)))
        batches.append(Batch(ids.to(device), mask.to(device), labels.to(device), int(chunk.sum())))
    return [batches[i] for i in rng.permutation(len(batches))]


def flops_by_length(step: Callable[[Batch], None], batches: list[Batch]) -> dict[int, int]:
    """FLOPs of one step at every padded length among `batches`.

    For a fixed batch size a transformer's FLOPs are a quadratic in the padded length
    (projections linear, attention scores quadratic, pooler and relative-position
    projections constant), so three counted batches give every length exactly."""
    by_length = {b.padded_length: b for b in batches}
    lengths = sorted(by_length)
    probes = lengths if len(lengths) <= 3 else [lengths[0], lengths[len(lengths) // 2], lengths[-1]]
    counted = {}
    for length in probes:
        counter = FlopCounterMode(display=False, custom_mapping=CPU_ATTENTION_FLOPS)
        with counter:
            step(by_length[length])
        counted[length] = counter.get_total_flops()
    if len(probes) == len(lengths):
        return counted
    coefficients = np.polyfit(probes, [counted[t] for t in probes], deg=2)
    return {t: counted.get(t, round(float(np.polyval(coefficients, t)))) for t in lengths}
