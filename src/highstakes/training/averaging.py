"""An exponential moving average of a model's weights (Polyak-Ruppert averaging).

Averaging the weights along the last stretch of training smooths out the noise of the
final steps, which tends to help on data unlike the training set (Polyak and Juditsky,
1992; the same idea as stochastic weight averaging, Izmailov et al., 2018).  The trainer
evaluates and saves the averaged weights when `TrainConfig.weight_average` is set.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch


class WeightAverage:
    """Shadow copies of the trainable parameters, moved towards them after every step."""

    def __init__(self, model: torch.nn.Module, decay: float) -> None:
        if not 0.0 < decay < 1.0:
            raise ValueError(f"weight_average must be in (0, 1), got {decay}")
        self.decay = decay
        self.shadow = {
            name: p.detach().clone() for name, p in model.named_parameters() if p.requires_grad
        }

    @torch.no_grad()
    def update(self, model: torch.nn.Module) -> None:
        for name, p in model.named_parameters():
            if name in self.shadow:
                self.shadow[name].lerp_(p.detach(), 1.0 - self.decay)

    @contextmanager
    def applied(self, model: torch.nn.Module) -> Iterator[None]:
        """The model carries the averaged weights inside the block, its own after it."""
        params = dict(model.named_parameters())
        backup = {name: params[name].detach().clone() for name in self.shadow}
        with torch.no_grad():
            for name, value in self.shadow.items():
                params[name].copy_(value)
        try:
            yield
        finally:
            with torch.no_grad():
                for name, value in backup.items():
                    params[name].copy_(value)

    def state_dict(self) -> dict[str, torch.Tensor]:
        return self.shadow

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        for name, value in state.items():
            self.shadow[name].copy_(value)
