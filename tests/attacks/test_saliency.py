from __future__ import annotations

import pytest
import torch

from highstakes.attacks.saliency import (
    SaliencyMethod,
    token_saliency,
    word_saliency,
    word_saliency_many,
)
from highstakes.attacks.text import words_of
from highstakes.data.records import Snippet
from highstakes.models.classifier import POSITIVE_INDEX, Classifier

S = Snippet(
    "The knight rode out. The valley was quiet. A dragon slept.",
    "The dragon's claws tore through his armour.",
)


@pytest.mark.parametrize("method", list(SaliencyMethod))
def test_every_word_gets_a_normalized_score(tiny_classifier: Classifier, method: str) -> None:
    result = word_saliency(tiny_classifier, S, method)
    n_words = len(words_of(S.prompt)) + len(words_of(S.completion))
    assert len(result) == n_words
    assert [r.word.field for r in result].count("prompt") == len(words_of(S.prompt))
    scores = [r.score for r in result]
    assert max(scores) == pytest.approx(1.0) and min(scores) >= 0.0
    assert sum(r.raw > 0 for r in result) >= n_words - 2  # every real word is attributed


def test_integrated_gradients_are_complete(tiny_classifier: Classifier) -> None:
    """Completeness (Sundararajan et al., 2017): attributions sum to f(x) - f(baseline)."""
    from captum.attr import IntegratedGradients

    clf = tiny_classifier
    enc = clf.tokenizer(S.prompt, S.completion, return_tensors="pt")
    embeds = clf.model.get_input_embeddings()(enc["input_ids"]).detach()

    def f(e: torch.Tensor) -> torch.Tensor:
        n = e.shape[0]
        logits = clf.model(
            inputs_embeds=e,
            attention_mask=enc["attention_mask"].expand(n, -1),
            token_type_ids=enc["token_type_ids"].expand(n, -1),
        ).logits
        return logits[:, POSITIVE_INDEX] - logits[:, 1 - POSITIVE_INDEX]

    attributions = IntegratedGradients(f).attribute(
        embeds, baselines=torch.zeros_like(embeds), n_steps=200, internal_batch_size=200
    )
    with torch.no_grad():
        gap = float(f(embeds) - f(torch.zeros_like(embeds)))
    assert float(attributions.sum()) == pytest.approx(gap, rel=0.05, abs=1e-3)


def test_gradient_norm_matches_autograd(tiny_classifier: Classifier) -> None:
    scores, enc = token_saliency(tiny_classifier, S, SaliencyMethod.GRADIENT_NORM)
    assert scores.shape == (enc["input_ids"].shape[1],)
    assert torch.all(scores >= 0) and torch.isfinite(scores).all()


@pytest.mark.parametrize("method", list(SaliencyMethod))
def test_saliency_in_batches_equals_one_at_a_time(tiny_classifier: Classifier, method: str) -> None:
    snippets = [
        S,
        Snippet("Short.", "He fell."),  # padded beside the longer ones
        Snippet("The storm came in at night over the hills.", "A branch broke her arm."),
    ]
    together = word_saliency_many(tiny_classifier, snippets, method, batch_size=2)
    for snippet, found in zip(snippets, together, strict=True):
        alone = word_saliency(tiny_classifier, snippet, method)
        assert [w.word for w in found] == [w.word for w in alone]
        assert [w.raw for w in found] == pytest.approx([w.raw for w in alone], rel=1e-4, abs=1e-7)


def test_text_behind_a_direction_override_gets_the_saliency_of_what_is_shown(
    tiny_classifier: Classifier,
) -> None:
    """The classifier reads "sih kcab" inside a right-to-left override as the "his back" a
    reader sees; its saliency is of that text, placed on the stored words it is drawn
    from."""
    plain = Snippet(S.prompt, "The dragon's claws tore his back.")
    stored = Snippet(S.prompt, "The dragon's claws tore \u202ekcab sih\u202c.")
    for found in (
        [word_saliency(tiny_classifier, s) for s in (plain, stored)],
        word_saliency_many(tiny_classifier, [plain, stored]),
    ):
        seen = {w.word.text: w.raw for w in found[0] if w.word.field == "completion"}
        got = {w.word.text: w.raw for w in found[1] if w.word.field == "completion"}
        assert seen["his"] > 0 and seen["back"] > 0
        assert got["sih"] == pytest.approx(seen["his"], rel=1e-4)
        assert got["kcab"] == pytest.approx(seen["back"], rel=1e-4)
        assert got["\u202e"] == got["\u202c"] == 0.0
        assert [w.raw for w in found[1] if w.word.field == "prompt"] == pytest.approx(
            [w.raw for w in found[0] if w.word.field == "prompt"], rel=1e-4
        )
