from __future__ import annotations

from pathlib import Path

import pytest
import torch
from transformers import AutoTokenizer, BertForMaskedLM

from highstakes.attacks.candidates.embedding import EmbeddingNeighbours
from highstakes.attacks.candidates.lm import LanguageModelProposals
from highstakes.attacks.candidates.masked import MaskedLanguageModelProposals
from highstakes.attacks.candidates.wordnet import WordNetSynonyms
from highstakes.data.records import Snippet
from highstakes.models.classifier import Classifier
from highstakes.models.generator import CausalLM
from tests.conftest import tiny_bert_config

S = Snippet(
    "The knight rode into the valley. The wind was cold. Tom went outside.",
    "He cut his hand on the broken glass.",
)


def _check(proposals: list, original: str, k: int) -> None:
    assert 0 < len(proposals) <= k
    words = [p.word.lower() for p in proposals]
    assert original.lower() not in words
    assert len(set(words)) == len(words)
    assert all(p.word.replace(" ", "").isalpha() for p in proposals)


def test_embedding_neighbours(tiny_classifier: Classifier) -> None:
    source = EmbeddingNeighbours(tiny_classifier)
    proposals = source.propose(S, "completion", 3, "replace", 10)
    _check(proposals, "hand", 10)
    assert [p.prior for p in proposals] == sorted([p.prior for p in proposals], reverse=True)
    assert source.propose(S, "completion", 3, "insert", 10) == []
    capital = source.propose(S, "completion", 0, "replace", 5)
    assert all(p.word[0].isupper() for p in capital)


def test_lm_proposals_for_replacements_and_insertions(tiny_lm: CausalLM) -> None:
    source = LanguageModelProposals(tiny_lm, pool=12)
    for kind, index in (("replace", 3), ("insert", 3), ("insert", 8), ("replace", 0)):
        proposals = source.propose(S, "completion", index, kind, 6)  # type: ignore[arg-type]
        _check(proposals, "hand" if kind == "replace" and index == 3 else "", 6)
        priors = [p.prior for p in proposals]
        assert priors == sorted(priors, reverse=True)
    assert source.propose(S, "prompt", 1, "replace", 4)


def test_lm_rerank_uses_the_right_context(tiny_lm: CausalLM) -> None:
    """The same left context with a different right context gives different scores."""
    source = LanguageModelProposals(tiny_lm, pool=12)
    a = {p.word: p.prior for p in source.propose(S, "completion", 3, "replace", 12)}
    other = Snippet(S.prompt, "He cut his hand and laughed at the joke.")
    b = {p.word: p.prior for p in source.propose(other, "completion", 3, "replace", 12)}
    shared = set(a) & set(b)
    assert shared and any(abs(a[w] - b[w]) > 1e-4 for w in shared)


def test_fluency_change_is_zero_for_the_original_word(tiny_lm: CausalLM) -> None:
    source = LanguageModelProposals(tiny_lm)
    changes = source.fluency_change(S, "completion", 3, "replace", ["hand", "zzzq"])
    assert changes[0] == pytest.approx(0.0, abs=1e-4)
    assert changes[1] < 0
    inserted = source.fluency_change(S, "completion", 3, "insert", ["very"])
    assert inserted[0] < 0  # adding a word always costs its own probability


def test_masked_lm_proposals(tmp_path: Path, tiny_model_dir: Path) -> None:
    torch.manual_seed(0)
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    model = BertForMaskedLM(tiny_bert_config(tokenizer.vocab_size))
    source = MaskedLanguageModelProposals(model, tokenizer)
    _check(source.propose(S, "completion", 3, "replace", 8), "hand", 8)
    _check(source.propose(S, "completion", 3, "insert", 8), "", 8)
    _check(source.propose(S, "prompt", 1, "replace", 8), "knight", 8)


def test_masked_lm_needs_a_mask_token(tiny_lm: CausalLM) -> None:
    with pytest.raises(ValueError, match="no mask token"):
        MaskedLanguageModelProposals(tiny_lm.model, tiny_lm.tokenizer)


def test_wordnet_synonyms_as_a_candidate_source() -> None:
    source = WordNetSynonyms()  # Debian's WordNet (see test_preserving.py)
    snippet = Snippet("The ward was busy.", "The doctors stitched his arm.")
    words = [p.word for p in source.propose(snippet, "completion", 1, "replace", 5)]
    assert words == ["physicians"]
    assert source.propose(snippet, "completion", 1, "insert", 5) == []
