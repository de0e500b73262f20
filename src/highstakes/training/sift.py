"""Scale-invariant fine-tuning (SiFT), a virtual adversarial training regularizer.

From the DeBERTa paper (He et al., 2021, "DeBERTa: Decoding-enhanced BERT with
Disentangled Attention", section 3.3): perturb the *normalized* word embeddings rather
than the raw ones, so the perturbation size means the same thing whatever the scale of
each embedding vector, and penalize the symmetric KL divergence between the model's
predictions on clean and perturbed input.  As in virtual adversarial training (Miyato et
al., 2018) the perturbation starts as small Gaussian noise and takes one normalized
gradient-ascent step on that divergence before the penalty is computed.

Here each token's embedding e is normalized to n = (e - mean) / std, perturbed to n + d,
and mapped back with the same mean and std, so clean input is unchanged and any model
that accepts `inputs_embeds` works (BERT, RoBERTa, DeBERTa-v2/v3).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

EPS = 1e-6


@dataclass
class SiftConfig:
    alpha: float = 1.0  # weight of the adversarial term in the loss
    init_std: float = 1e-2  # std of the initial noise on normalized embeddings (DeBERTa code)
    step_size: float = 1e-2  # size of the ascent step, in max-norm of the normalized grad


def symmetric_kl(logits_a: torch.Tensor, logits_b: torch.Tensor) -> torch.Tensor:
    """KL(a||b) + KL(b||a) averaged over the batch, computed in float32 log space."""
    log_a = F.log_softmax(logits_a.float(), dim=-1)
    log_b = F.log_softmax(logits_b.float(), dim=-1)
    kl_ab = (log_a.exp() * (log_a - log_b)).sum(-1)
    kl_ba = (log_b.exp() * (log_b - log_a)).sum(-1)
    return (kl_ab + kl_ba).mean()


def sift_loss(
    model: Any, batch: dict[str, torch.Tensor], clean_logits: torch.Tensor, config: SiftConfig
) -> torch.Tensor:
    """The SiFT penalty for one batch (to be added, times alpha, to the task loss)."""
    extra = {k: v for k, v in batch.items() if k not in ("input_ids", "labels")}
    embeds = model.get_input_embeddings()(batch["input_ids"])  # (B, T, C)
    mean = embeds.mean(-1, keepdim=True)
    std = embeds.std(-1, keepdim=True) + EPS
    normed = (embeds - mean) / std  # (B, T, C), each token ~ zero mean, unit variance
    target = clean_logits.detach()

    def perturbed_logits(delta: torch.Tensor, through_embeddings: bool) -> torch.Tensor:
        n, m, s = (
            (normed, mean, std)
            if through_embeddings
            else (normed.detach(), mean.detach(), std.detach())
        )
        return model(inputs_embeds=(n + delta) * s + m, **extra).logits

    # One ascent step on the perturbation; the inner forward does not train the model.
    delta = (torch.randn_like(normed) * config.init_std).requires_grad_()
    inner = symmetric_kl(perturbed_logits(delta, through_embeddings=False), target)
    (grad,) = torch.autograd.grad(inner, delta)
    grad = torch.nan_to_num(grad, nan=0.0, posinf=0.0, neginf=0.0)
    scale = grad.abs().amax(dim=(1, 2), keepdim=True) + EPS  # per-example max norm
    delta = (delta + config.step_size * grad / scale).detach()
    return symmetric_kl(perturbed_logits(delta, through_embeddings=True), target)
