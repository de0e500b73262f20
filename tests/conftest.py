"""Shared fixtures: a tiny randomly initialized BERT classifier (built here, no network)
and a small synthetic data set.  The synthetic labels exist only to exercise code paths;
they are not demo data and claim nothing about injury."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import torch
from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

from highstakes.data.records import Example, Label, Provenance, Snippet, Source
from highstakes.models.embedded import minilm_folder


def tiny_bert_config(vocab_size: int) -> BertConfig:
    """2 layers, 32 wide: fast enough for every test, real enough to train."""
    fields: dict[str, Any] = {"num_labels": 2}  # a field the config's type stubs do not list
    return BertConfig(
        vocab_size=vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=256,
        **fields,
    )


def build_tiny_classifier(folder: Path, seed: int = 0) -> Path:
    """A tiny BERT classifier with the embedded MiniLM's WordPiece tokenizer."""
    torch.manual_seed(seed)
    tokenizer = AutoTokenizer.from_pretrained(minilm_folder())
    BertForSequenceClassification(tiny_bert_config(tokenizer.vocab_size)).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_classifier(tmp_path_factory.mktemp("tiny-bert"))


@pytest.fixture(scope="session")
def studio_model(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny classifier saved like a trained one (threshold in highstakes.json), for the
    studio and the loop."""
    from highstakes.models.classifier import Classifier

    clf = Classifier.from_pretrained(tiny_model_dir)
    clf.threshold = 0.5
    return clf.save(tmp_path_factory.mktemp("tiny-studio"))


@pytest.fixture(scope="session", autouse=True)
def cheap_password_hashing() -> None:
    """argon2 at its defaults costs ~0.16 s per hash here; the studio tests sign in dozens
    of times.  Production keeps the library's defaults."""
    from argon2 import PasswordHasher

    from highstakes.store import accounts

    accounts.use_password_hasher(PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


HURT = [
    "cut his hand on the broken glass",
    "broke her wrist when she fell",
    "was bitten by the dog",
]
SAFE = ["ate his supper by the fire", "laughed at the joke", "walked home in the rain"]


def make_examples(n_prompts: int = 24) -> list[Example]:
    """Four completions per prompt, one in four marked yes; ids are stable."""
    out = []
    for i in range(n_prompts):
        prompt = f"Story {i} begins in a small town. The wind was cold. Tom {i} went outside."
        for j in range(4):
            hurt = j == 0
            text = f"Tom {HURT[(i + j) % 3] if hurt else SAFE[(i + j) % 3]}."
            out.append(
                Example(
                    id=f"ex-{i}-{j}",
                    snippet=Snippet(prompt, text),
                    label=Label.YES if hurt else Label.NO,
                    provenance=Provenance(Source.HANDWRITTEN, author="test"),
                    genre="everyday-life" if i % 2 else "fantasy",
                )
            )
    return out


@pytest.fixture
def examples() -> list[Example]:
    return make_examples()


BENCHMARKS = Path(__file__).parents[1] / "benchmarks"


def load_benchmark(name: str) -> ModuleType:
    """benchmarks/<name>.py imported as a module (the folder is not a package), with the
    folder on the path as when the script runs, for the imports between its scripts."""
    if str(BENCHMARKS) not in sys.path:
        sys.path.append(str(BENCHMARKS))
    spec = importlib.util.spec_from_file_location(f"benchmarks_{name}", BENCHMARKS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up here
    spec.loader.exec_module(module)
    return module
