"""Fakes for filter tests: a generator that replays scripted sentences and a scorer that
flags any completion mentioning blood, both counting their work like real backends."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from highstakes.data.records import Snippet
from highstakes.filtering.base import Usage
from highstakes.models.generator import CausalLM
from tests.attacks.conftest import build_tiny_lm


class ScriptedGenerator:
    """Returns, for prompt p, the next n sentences of `script[p]` (cycling); every call
    charges 10 prompt tokens and 5 generated tokens per sample."""

    name = "scripted"

    def __init__(self, script: dict[str, list[str]], n_parameters: int | None = 1000) -> None:
        self.script = script
        self.position = dict.fromkeys(script, 0)
        self.n_parameters = n_parameters
        self.usage = Usage()
        self.calls: list[tuple[list[str], int, int | None]] = []

    def sample(self, prompts: Sequence[str], n: int, seed: int | None = None) -> list[list[str]]:
        self.calls.append((list(prompts), n, seed))
        out = []
        for p in prompts:
            lines = self.script[p]
            start = self.position[p]
            out.append([lines[(start + j) % len(lines)] for j in range(n)])
            self.position[p] = start + n
        self.usage.n_calls += 1
        self.usage.n_input_tokens += 10 * n * len(prompts)
        self.usage.n_generated_tokens += 5 * n * len(prompts)
        self.usage.seconds += 1.0
        return out


def blood_scores(snippets: Sequence[Snippet]) -> np.ndarray:
    return np.array([0.9 if "blood" in s.completion else 0.1 for s in snippets])


@pytest.fixture(scope="session")
def tiny_lm_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_lm(tmp_path_factory.mktemp("tiny-llama-filtering"))


@pytest.fixture(scope="session")
def tiny_causal_lm(tiny_lm_folder: Path) -> CausalLM:
    return CausalLM.from_pretrained(str(tiny_lm_folder), dtype="float32")
