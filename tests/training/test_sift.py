from __future__ import annotations

from pathlib import Path

import pytest
import torch

from highstakes.data.records import Example
from highstakes.models.classifier import Classifier
from highstakes.training.sift import SiftConfig, sift_loss, symmetric_kl


def test_symmetric_kl_is_zero_symmetric_and_stable() -> None:
    a = torch.tensor([[2.0, -1.0], [0.5, 0.5]])
    b = torch.tensor([[0.0, 1.0], [3.0, -3.0]])
    assert float(symmetric_kl(a, a)) == pytest.approx(0.0, abs=1e-7)
    assert float(symmetric_kl(a, b)) == pytest.approx(float(symmetric_kl(b, a)), rel=1e-6)
    assert float(symmetric_kl(a, b)) > 0
    huge = torch.tensor([[1e4, -1e4]], dtype=torch.bfloat16)
    value = symmetric_kl(huge, -huge.float())
    assert torch.isfinite(value)


def _batch(clf: Classifier, examples: list[Example]) -> dict[str, torch.Tensor]:
    return dict(clf.encode([e.snippet for e in examples[:6]]))


def test_sift_loss_is_finite_positive_and_trains_the_model(
    tiny_model_dir: Path, examples: list[Example]
) -> None:
    torch.manual_seed(0)
    clf = Classifier.from_pretrained(tiny_model_dir)
    clf.model.train()
    batch = _batch(clf, examples)
    clean = clf.model(**batch).logits
    loss = sift_loss(clf.model, batch, clean, SiftConfig(init_std=0.5, step_size=0.5))
    assert torch.isfinite(loss) and float(loss.detach()) > 0
    loss.backward()
    grads = [p.grad for p in clf.model.parameters() if p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)
    assert any(float(g.abs().sum()) > 0 for g in grads)


def test_sift_stays_finite_with_extreme_embeddings(
    tiny_model_dir: Path, examples: list[Example]
) -> None:
    clf = Classifier.from_pretrained(tiny_model_dir)
    with torch.no_grad():  # embeddings a million times too large, as after a blow-up
        clf.model.get_input_embeddings().weight.mul_(1e6)
    batch = _batch(clf, examples)
    clean = clf.model(**batch).logits
    loss = sift_loss(clf.model, batch, clean, SiftConfig())
    assert torch.isfinite(loss)
    loss.backward()
    assert all(torch.isfinite(p.grad).all() for p in clf.model.parameters() if p.grad is not None)
