"""Latent adversarial training (LAT): train under the worst small change to hidden states.

Input-space attacks search over words; LAT searches over the model's own hidden states,
where perturbations can stand for failure modes no word-level attack has found (Casper et
al., 2024, "Defending Against Unforeseen Failure Modes with Latent Adversarial
Training").  For each batch, a perturbation delta is added to the output of chosen
transformer blocks, K steps of projected gradient ascent on the classification loss make
it as harmful as the ball allows (Madry et al., 2018, with L2 balls), and the model is
trained to classify correctly under it.

The ball is per token: each token's delta has an L2 norm of at most `radius` times the
mean L2 norm of that example's clean hidden states at that block (padding tokens get no
delta).  Hidden-state scales differ a lot between models and depth, so a radius relative
to them means the same thing across backbones.  Each ascent step moves every token by
`step_size * radius` along its own normalized gradient (the steepest ascent for a
per-token L2 constraint), then projects back into the ball.  Delta starts at zero, so
the first ascent forward is a clean one and also measures the hidden-state norms.

The perturbation is added by forward hooks on the blocks of the plain model (found
generically: the longest `nn.ModuleList` of identical blocks), so it works for BERT,
MiniLM, RoBERTa, DeBERTa and the like, and under Accelerate, whose wrapper calls the
same blocks.  The ascent runs on the plain model, not the data-parallel wrapper, so it
neither trains nor syncs anything; only the final forward (`forward`, the wrapper when
there is one) carries gradients to the weights.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

EPS = 1e-6
TINY = 1e-30  # only keeps 0 / 0 out


@dataclass
class LatConfig:
    # indices into the model's transformer blocks whose outputs are perturbed (negative:
    # from the end); empty: the block halfway up the stack (index n // 2 - 1, e.g. block
    # 2 of MiniLM's 6, 11 of DeBERTa-v3-large's 24)
    layers: Sequence[int] = ()
    # per-token L2 radius, as a fraction of the mean token norm of the clean hidden
    # states.  On the demo's trained MiniLM (block 2: mean token norm 12) 0.02 with 3
    # steps raises the loss of 64 validation snippets 2.3-fold and changes a fifth of
    # the decisions, nearly all harmless snippets near the low threshold; 0.1 changes 70%
    # (docs/classifier.md): a ball that large asks for the impossible
    radius: float = 0.02
    steps: int = 3  # ascent steps per batch (each costs a forward and a partial backward)
    # each step's length, as a fraction of the radius: 0.5 over 3 steps can cross the
    # ball and turn once (Madry et al. use 2.5 * radius / steps)
    step_size: float = 0.5
    # weight of the loss under the perturbation; the clean loss is always kept (as with
    # SiFT), so the model still learns the clean task at full strength
    alpha: float = 1.0

    def __post_init__(self) -> None:
        self.layers = tuple(self.layers)  # TOML and JSON give lists

    def check(self) -> None:
        """Refuse settings that cannot work, naming the setting."""
        if not all(isinstance(i, int) and not isinstance(i, bool) for i in self.layers):
            raise ValueError(f"lat_config.layers must be block indices, got {list(self.layers)}")
        for name, value in (("radius", self.radius), ("step_size", self.step_size)):
            if not isinstance(value, int | float) or not value > 0:
                raise ValueError(f"lat_config.{name} must be a number > 0, got {value!r}")
        if not isinstance(self.steps, int) or isinstance(self.steps, bool) or self.steps < 1:
            raise ValueError(f"lat_config.steps must be an integer >= 1, got {self.steps!r}")
        if not isinstance(self.alpha, int | float) or self.alpha < 0:
            raise ValueError(f"lat_config.alpha must be a number >= 0, got {self.alpha!r}")


def transformer_blocks(model: nn.Module) -> nn.ModuleList:
    """The model's stack of transformer blocks: the longest ModuleList whose members are
    all of one class (BERT's `encoder.layer`, DistilBERT's `transformer.layer`)."""
    stacks = [
        m
        for m in model.modules()
        if isinstance(m, nn.ModuleList) and len(m) and len({type(b) for b in m}) == 1
    ]
    if not stacks:
        raise ValueError(f"lat: found no stack of transformer blocks in {type(model).__name__}")
    return max(stacks, key=len)  # the first of the longest, in module order


def chosen_blocks(model: nn.Module, layers: Sequence[int]) -> list[nn.Module]:
    blocks = transformer_blocks(model)
    n = len(blocks)
    indices = list(layers) or [max(n // 2 - 1, 0)]
    bad = [i for i in indices if not -n <= i < n]
    if bad:
        raise ValueError(
            f"lat_config.layers: {bad} out of range; this model has {n} blocks (0 to {n - 1})"
        )
    return [blocks[i] for i in dict.fromkeys(i % n for i in indices)]


class LatentPerturbation:
    """Deltas added to the outputs of `blocks` while `hooked()` is active.  A block's
    delta and radius are made on the first forward after `reset`, from its clean output."""

    def __init__(self, blocks: Sequence[nn.Module], mask: torch.Tensor, radius: float) -> None:
        self.blocks = list(blocks)
        self.mask = mask.unsqueeze(-1).float()  # (B, T, 1): 1 on real tokens
        self.radius = radius
        self.deltas: list[torch.Tensor | None] = [None] * len(self.blocks)
        self.radii: list[torch.Tensor | None] = [None] * len(self.blocks)  # each (B, 1, 1)

    def _hook(self, i: int) -> Any:
        def add_delta(module: nn.Module, args: Any, output: Any) -> Any:
            hidden = output[0] if isinstance(output, tuple) else output  # (B, T, C)
            if self.deltas[i] is None:
                norms = hidden.detach().float().norm(dim=-1, keepdim=True)  # (B, T, 1)
                mean = (norms * self.mask).sum(1, keepdim=True) / self.mask.sum(1, keepdim=True)
                self.radii[i] = self.radius * mean.clamp_min(EPS)
                self.deltas[i] = torch.zeros_like(hidden, dtype=torch.float32).requires_grad_()
            delta = self.deltas[i]
            assert delta is not None
            perturbed = hidden + (delta * self.mask).to(hidden.dtype)
            return (perturbed, *output[1:]) if isinstance(output, tuple) else perturbed

        return add_delta

    @contextmanager
    def hooked(self) -> Iterator[LatentPerturbation]:
        handles = [b.register_forward_hook(self._hook(i)) for i, b in enumerate(self.blocks)]
        try:
            yield self
        finally:
            for handle in handles:
                handle.remove()

    def leaves(self) -> list[torch.Tensor]:
        if any(d is None for d in self.deltas):
            raise RuntimeError("lat: a chosen block did not run in the forward pass")
        return [d for d in self.deltas if d is not None]

    def ascend(self, grads: Sequence[torch.Tensor], step_size: float) -> None:
        """One step along each token's normalized gradient, then back into the ball."""
        for i, (delta, grad) in enumerate(zip(self.leaves(), grads, strict=True)):
            radius = self.radii[i]
            assert radius is not None
            grad = torch.nan_to_num(grad.float(), nan=0.0, posinf=0.0, neginf=0.0)
            # (B, T, C), unit per token; gradients far from the output can be ~1e-7, so no
            # additive epsilon here: it would shorten their steps
            step = grad / grad.norm(dim=-1, keepdim=True).clamp_min(TINY)
            moved = delta.detach() + step_size * radius * step
            self.deltas[i] = (project(moved, radius) * self.mask).requires_grad_()

    def freeze(self) -> None:
        self.deltas = [d.detach() for d in self.leaves()]


def project(delta: torch.Tensor, radius: torch.Tensor) -> torch.Tensor:
    """`delta` (B, T, C) with every token's L2 norm cut to at most `radius` (B, 1, 1)."""
    norms = delta.norm(dim=-1, keepdim=True)  # (B, T, 1)
    return delta * (radius / norms.clamp_min(EPS)).clamp(max=1.0)


def _loss(logits: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None) -> torch.Tensor:
    return F.cross_entropy(logits.float(), target, weight=weight)


def worst_perturbation(
    model: nn.Module,
    batch: dict[str, torch.Tensor],
    target: torch.Tensor,
    config: LatConfig,
    class_weight: torch.Tensor | None = None,
) -> LatentPerturbation:
    """`config.steps` steps of projected gradient ascent on the loss; the deltas come back
    frozen (no gradient), ready to be hooked in for the training forward."""
    mask = batch.get("attention_mask", torch.ones_like(batch["input_ids"]))
    perturbation = LatentPerturbation(chosen_blocks(model, config.layers), mask, config.radius)
    with perturbation.hooked():
        for _ in range(config.steps):
            loss = _loss(model(**batch).logits, target, class_weight)
            # gradients for the deltas only: the weights are not touched
            grads = torch.autograd.grad(loss, perturbation.leaves())
            perturbation.ascend(grads, config.step_size)
    perturbation.freeze()
    return perturbation


def lat_loss(
    model: nn.Module,
    batch: dict[str, torch.Tensor],
    target: torch.Tensor,
    config: LatConfig,
    class_weight: torch.Tensor | None = None,
    forward: Any | None = None,
) -> torch.Tensor:
    """The classification loss under the worst perturbation found for this batch (to be
    added, times `alpha`, to the clean loss).  `model` is the plain model, whose blocks
    are hooked; `forward` runs the training forward (default: `model`), e.g. the
    data-parallel wrapper, so that gradients are synced as for the clean loss."""
    perturbation = worst_perturbation(model, batch, target, config, class_weight)
    with perturbation.hooked():
        return _loss((forward or model)(**batch).logits, target, class_weight)
