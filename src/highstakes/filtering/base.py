"""What every generate-then-filter backend shares: the `Usage` it counts and the
`Generator` protocol.

Both backends (`generators.EndpointGenerator`, `local.LocalGenerator`) and the filter
import these from here, so no backend module imports another.  Nothing here imports
torch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Protocol


@dataclass
class Usage:
    """Work done by one model: calls, tokens read and written, and wall seconds."""

    n_calls: int = 0
    n_input_tokens: int = 0  # prompt tokens (classifier: the whole prompt+completion pair)
    n_generated_tokens: int = 0
    seconds: float = 0.0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.n_calls + other.n_calls,
            self.n_input_tokens + other.n_input_tokens,
            self.n_generated_tokens + other.n_generated_tokens,
            self.seconds + other.seconds,
        )

    def __sub__(self, other: Usage) -> Usage:
        return Usage(
            self.n_calls - other.n_calls,
            self.n_input_tokens - other.n_input_tokens,
            self.n_generated_tokens - other.n_generated_tokens,
            self.seconds - other.seconds,
        )

    def flops(self, n_parameters: int | None) -> float | None:
        """Forward-pass FLOPs, about 2 per matmul parameter per token (Kaplan et al. 2020,
        "Scaling Laws for Neural Language Models", table 1).  The attention term they add,
        2 * n_layer * n_ctx * d, is 1-2% of that for our ~100-token snippets, so it is left
        out.  None when the model's size is unknown (a remote endpoint, a plain function)."""
        if n_parameters is None:
            return None
        return 2.0 * n_parameters * (self.n_input_tokens + self.n_generated_tokens)

    def as_dict(self) -> dict[str, float | int]:
        return asdict(self)


class Generator(Protocol):
    """Samples one-sentence story continuations.

    `sample` returns, for each prompt, exactly `n` strings: the first sentence of each
    sample, or "" where a sample held no complete sentence (it still cost compute).
    `usage` accumulates over calls; `n_parameters` (matmul parameters, for FLOP estimates)
    is None when unknown.
    """

    name: str
    n_parameters: int | None
    usage: Usage

    def sample(
        self, prompts: Sequence[str], n: int, seed: int | None = None
    ) -> list[list[str]]: ...
