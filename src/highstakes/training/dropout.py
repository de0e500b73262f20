"""Dropout with a cheaper source of random bits, for training on CPUs.

torch's CPU dropout draws every mask element with `bernoulli_` from its MT19937
generator, about 7 ns an element on a 2-core AMD EPYC.  Training MiniLM at batch 32 draws
~33 million a step (the attention probabilities of six layers, most of them, and the
hidden states), about 0.2 s of a 1.1 s step.  Here a mask is 16-bit integers from numpy's
PCG64, compared with p * 2**16: under a third of the time (benchmarks/results/dropout.json).
The drop rate is p rounded to a multiple of 2**-16; kept values are scaled by 1/(1-p) as
torch's are.  Each mask's generator is seeded from torch's generator, so a run seeded
with `torch.manual_seed` draws the same masks again.

`cpu_dropout(model)` puts this dropout in the model's `nn.Dropout` modules and sends its
attention through `ATTENTION`, which drops attention probabilities the same way (SDPA's
dropout draws with `bernoulli_` too) and is plain SDPA when nothing is dropped.  Both are
undone when the block ends.  On a GPU it changes nothing: masks are drawn fast there.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch
from torch import nn
from transformers.integrations.sdpa_attention import sdpa_attention_forward

ATTENTION = "sdpa_cpu_dropout"  # the attention implementation's registered name
LEVELS = 1 << 16  # a mask element is a 16-bit integer; p is kept to within 1/LEVELS


def keep_mask(shape: torch.Size, p: float) -> torch.Tensor:
    """A boolean mask of `shape`, each element False with probability p (to 1/LEVELS)."""
    seed = int(torch.randint(0, 2**62, (1,)))  # from torch's generator: reproducible
    draws = np.random.default_rng(seed).integers(0, LEVELS, int(np.prod(shape)), np.uint16)
    return torch.from_numpy(draws >= round(p * LEVELS)).view(shape)


def drop(x: torch.Tensor, p: float) -> torch.Tensor:
    """`x` with elements zeroed with probability p and the rest scaled by 1/(1-p)."""
    if p <= 0.0:
        return x
    if p >= 1.0:
        return torch.zeros_like(x)
    return torch.where(keep_mask(x.shape, p), x, 0) * (1.0 / (1.0 - p))


class CpuDropout(nn.Dropout):
    """`nn.Dropout` whose masks come from `keep_mask`."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or x.device.type != "cpu":
            return super().forward(x)
        return drop(x, self.p)


def _attention(
    module: nn.Module,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_mask: torch.Tensor | None,
    dropout: float = 0.0,
    scaling: float | None = None,
    **kwargs: Any,
) -> tuple[torch.Tensor, None]:
    """Attention as BERT's eager code computes it, with `drop` on the probabilities;
    SDPA itself when nothing is dropped or the attention is causal."""
    if dropout <= 0.0 or getattr(module, "is_causal", False) or query.device.type != "cpu":
        return sdpa_attention_forward(
            module, query, key, value, attention_mask, dropout=dropout, scaling=scaling, **kwargs
        )
    scaling = query.size(-1) ** -0.5 if scaling is None else scaling
    scores = torch.matmul(query, key.transpose(2, 3)) * scaling
    if attention_mask is not None:  # SDPA's mask: True where attending, or additive
        if attention_mask.dtype == torch.bool:
            scores = scores.masked_fill(~attention_mask, torch.finfo(scores.dtype).min)
        else:
            scores = scores + attention_mask
    probs = drop(torch.softmax(scores, dim=-1), dropout)
    return torch.matmul(probs.to(value.dtype), value).transpose(1, 2).contiguous(), None


def _register() -> None:
    from transformers import AttentionInterface
    from transformers.masking_utils import ALL_MASK_ATTENTION_FUNCTIONS, sdpa_mask

    AttentionInterface.register(ATTENTION, _attention)
    ALL_MASK_ATTENTION_FUNCTIONS.register(ATTENTION, sdpa_mask)  # the masks SDPA takes


@contextmanager
def cpu_dropout(model: nn.Module) -> Iterator[nn.Module]:
    """Within the block, `model` (on a CPU, with SDPA attention) drops with `keep_mask`."""
    config = getattr(model, "config", None)
    on_cpu = next(model.parameters()).device.type == "cpu"
    if not on_cpu or getattr(config, "_attn_implementation", None) != "sdpa":
        yield model
        return
    _register()
    swapped = []
    for parent in model.modules():
        for name, child in parent.named_children():
            if type(child) is nn.Dropout:
                fast = CpuDropout(child.p, child.inplace).train(child.training)
                setattr(parent, name, fast)
                swapped.append((parent, name, child))
    set_attention: Any = model.set_attn_implementation  # a PreTrainedModel's
    set_attention(ATTENTION)
    try:
        yield model
    finally:
        set_attention("sdpa")
        for parent, name, child in swapped:
            setattr(parent, name, child)
