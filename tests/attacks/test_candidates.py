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


def test_span_fluency_matches_the_lm_reading_the_whole_edited_text(tiny_lm: CausalLM) -> None:
    """The batched reading after the cached text (only the rows that predict a token go
    through the output layer) gives the log-likelihood a plain pass over the edited text
    gives, for words of one and of several tokens."""
    source = LanguageModelProposals(tiny_lm)
    texts = ["arm", "broken glass", "zzzq"]
    found = source.span_fluency(S, "completion", 3, "replace", texts, right_window=4)
    right = source._slot(source._analyse(source._text(S)), S, "completion", 3, "replace", 1, 4)

    def log_likelihood(word: str) -> tuple[float, float]:
        """log p of `word`'s tokens and of the next 4 original tokens, one full pass."""
        before = source._text(S)[: len(S.prompt) + 1 + S.completion.index("hand")]
        start = tiny_lm.tokenizer.bos_token_id
        prefix = [start, *tiny_lm.tokenizer(before.rstrip(), add_special_tokens=False)["input_ids"]]
        own = tiny_lm.tokenizer(" " + word, add_special_tokens=False)["input_ids"]
        ids = torch.tensor([prefix + own + right.right])
        with torch.inference_mode():
            lp = torch.log_softmax(tiny_lm.model(input_ids=ids).logits[0].float(), -1)
        read = [float(lp[i - 1, ids[0, i]]) for i in range(len(prefix), ids.shape[1])]
        return sum(read[: len(own)]), sum(read[len(own) :])

    base = log_likelihood("hand")
    for text, change in zip(texts, found, strict=True):
        own, after = log_likelihood(text)
        assert change.words == pytest.approx(own - base[0], abs=1e-3)
        assert change.right == pytest.approx(after - base[1], abs=1e-3)


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


def test_wordnet_leaves_names_alone() -> None:
    """A capitalized word inside a sentence is a name (Pike is no turnpike); the same word
    opening a sentence, or a line of dialogue, is a word."""
    from highstakes.attacks.candidates.names import proper_nouns

    source = WordNetSynonyms()

    def words(completion: str, index: int) -> list[str]:
        return [
            p.word
            for p in source.propose(Snippet("", completion), "completion", index, "replace", 5)
        ]

    named = "Quicksand, and Pike goes under. The doctors stitched his arm."
    assert words(named, 3) == []  # "Pike"
    assert words(named, 8) == ["physicians"]  # the rest keeps its synonyms
    assert "freeway" in words(named.replace("Pike", "pike"), 3)  # the word itself has some
    names = proper_nouns(Snippet("", "She ran. 'Doctors!' he said to Rose."))
    assert [w in names for w in ("She", "Doctors", "Rose", "ran")] == [
        False, False, True, False,
    ]  # fmt: skip
