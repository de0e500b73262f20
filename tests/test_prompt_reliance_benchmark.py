"""benchmarks/prompt_reliance.py: the three views of a snippet and the counts made on them."""

from __future__ import annotations

from collections.abc import Sequence
from types import ModuleType

import pytest

from highstakes.data.records import Example, Label, Provenance, Snippet, Source
from tests.conftest import load_benchmark


@pytest.fixture(scope="module")
def reliance() -> ModuleType:
    return load_benchmark("prompt_reliance")


@pytest.mark.parametrize(
    ("prompt", "last"),
    [
        (
            "The gate swung open. Dust rose. The bull came out bucking.",
            "The bull came out bucking.",
        ),
        ('He ran. She shouted "Stop!" Then the bull turned.', "Then the bull turned."),
        ("Was it loose? Nobody knew.\u201d The bull turned.", "The bull turned."),
        ("A prompt of one sentence", "A prompt of one sentence"),
        ("", ""),
    ],
)
def test_last_sentence(reliance: ModuleType, prompt: str, last: str) -> None:
    assert reliance.last_sentence(prompt) == last


class PromptWordScorer:
    """Flags a snippet when its prompt names a bull, whatever the completion says."""

    threshold = 0.5

    def score(self, snippets: Sequence[Snippet]) -> list[float]:
        return [float("bull" in s.prompt) for s in snippets]


def example(i: int, prompt: str, label: Label) -> Example:
    return Example(
        f"x{i}", Snippet(prompt, "He walked home."), label, Provenance(Source.HANDWRITTEN)
    )


def test_counts_follow_what_each_view_keeps_of_the_prompt(reliance: ModuleType) -> None:
    examples = [
        example(0, "A bull stood there. It was quiet. The gate opened.", Label.NO),
        example(1, "It was quiet. The gate opened. A bull stood there.", Label.NO),
        example(2, "It was quiet. The gate opened. Nobody came.", Label.NO),
        example(3, "The gate opened. A bull charged.", Label.YES),
        example(4, "A bull charged. The gate held.", Label.UNSURE),  # left out
    ]
    out = reliance.measure(PromptWordScorer(), examples)
    assert out["harmless"] == {
        "n": 3,
        "flagged_as_written": 2,
        "flagged_last_prompt_sentence": 1,
        "flagged_no_prompt": 0,
        "flagged_as_written_and_without_prompt": 0,
    }
    assert out["injurious"]["n"] == 1
    assert out["injurious"]["flagged_last_prompt_sentence"] == 1
    assert out["injurious"]["flagged_no_prompt"] == 0
