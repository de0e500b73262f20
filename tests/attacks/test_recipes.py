"""One conformance test over every attack recipe, built on tiny models."""

from __future__ import annotations

import math

import numpy as np
import pytest

from highstakes.attacks import recipes
from highstakes.attacks.run import attack_examples, attack_metrics, result_examples
from highstakes.data.records import Example, Label
from highstakes.models.classifier import Classifier
from highstakes.models.generator import CausalLM

BUDGET = 40


@pytest.fixture(scope="module")
def targets(tiny_classifier: Classifier) -> list[Example]:
    from tests.conftest import make_examples

    return [e for e in make_examples(6) if e.label is Label.YES][:3]


@pytest.mark.parametrize("name", recipes.RECIPES)
def test_recipe_conformance(
    name: str,
    tiny_classifier: Classifier,
    tiny_lm: CausalLM,
    tiny_encoder: object,
    targets: list[Example],
) -> None:
    clf = tiny_classifier
    attack = recipes.build(name, clf, lm=tiny_lm, encoder=tiny_encoder)
    originals = clf.score([e.snippet for e in targets])
    threshold = float(np.median(originals)) - 1e-6  # some start below, most above
    records = attack_examples(attack, clf, targets, threshold, BUDGET, together=2)
    assert len(records) == len(targets)
    for r, original in zip(records, originals, strict=True):
        res = r.result
        assert 1 <= res.queries <= BUDGET
        assert res.original_score == pytest.approx(float(original), abs=1e-5)
        assert res.succeeded == bool(res.found)
        assert (res.best.score or 0.0) <= res.original_score + 1e-9
        for found in res.found:  # scores are the classifier's, not the attack's claim
            assert found.score < threshold
            assert float(clf.score([found.snippet])[0]) == pytest.approx(found.score, abs=1e-5)
    examples = result_examples(records, name, "v-test", round_=2)
    assert len(examples) == sum(len(r.result.found) for r in records)
    for e in examples:
        assert e.label is Label.UNSURE and e.tags["pending_labeler"] == "human"
        assert e.provenance.parent_id in {t.id for t in targets}
        assert e.provenance.round == 2 and e.provenance.target_version == "v-test"
    metrics = attack_metrics(records, tiny_lm, tiny_encoder)
    assert metrics["attempted"] == len(targets)
    assert 0 <= metrics["success_rate"] <= 1
    assert metrics["queries"] == sum(r.result.queries for r in records)


def test_unknown_recipe_is_refused(tiny_classifier: Classifier) -> None:
    with pytest.raises(ValueError, match="unknown recipe"):
        recipes.build("telepathy", tiny_classifier)


def test_metrics_closed_form() -> None:
    from highstakes.attacks.base import Candidate, SearchResult
    from highstakes.attacks.run import AttackRecord
    from highstakes.data.records import Snippet
    from tests.conftest import make_examples

    e = make_examples(1)[0]
    won = SearchResult(
        e.snippet,
        0.9,
        Candidate(Snippet(e.prompt, "Tom rested."), score=0.01),
        True,
        30,
        found=[Candidate(Snippet(e.prompt, "Tom rested."), score=0.01)],
    )
    lost = SearchResult(e.snippet, 0.9, Candidate(e.snippet, score=0.9), False, 50)
    m = attack_metrics([AttackRecord(e, won, 2.0), AttackRecord(e, lost, 4.0)])
    assert m["success_rate"] == 0.5
    assert m["queries_per_success"] == 80
    assert m["queries_per_success_lower"] <= 80 <= m["queries_per_success_upper"]
    assert m["wall_seconds_per_success"] == 6.0
    assert 0 < m["mean_fraction_words_changed"] < 1
    none = attack_metrics([AttackRecord(e, lost, 4.0)])
    assert none["success_rate"] == 0 and math.isinf(none["queries_per_success"])
    assert "queries_per_success_lower" not in none
