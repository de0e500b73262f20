"""`training/dropout.py`: the drop rate and scale, reproducibility, and a model whose
outputs are those of plain SDPA wherever nothing is dropped."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from transformers import BertConfig, BertForSequenceClassification

from highstakes.training.dropout import ATTENTION, CpuDropout, cpu_dropout, drop


def tiny_bert(attention_dropout: float = 0.1, hidden_dropout: float = 0.1) -> nn.Module:
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=50, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
        intermediate_size=64, attention_probs_dropout_prob=attention_dropout,
        hidden_dropout_prob=hidden_dropout, attn_implementation="sdpa",
    )  # fmt: skip
    return BertForSequenceClassification(config)


def padded_batch() -> dict[str, torch.Tensor]:
    ids = torch.tensor([[2, 5, 9, 11, 7, 3], [2, 8, 4, 3, 0, 0]])
    return {"input_ids": ids, "attention_mask": (ids != 0).long()}


@pytest.mark.parametrize("p", [0.1, 0.3])
def test_drop_rate_and_scale(p: float) -> None:
    torch.manual_seed(1)
    y = drop(torch.ones(400_000), p)
    n = y.numel()
    rate = float((y == 0).float().mean())
    assert abs(rate - p) < 5 * (p * (1 - p) / n) ** 0.5  # five standard errors
    assert torch.allclose(y[y != 0], torch.tensor(1 / (1 - p)))


def test_drop_edges_and_seeding() -> None:
    x = torch.randn(1000)
    assert torch.equal(drop(x, 0.0), x)
    assert torch.equal(drop(x, 1.0), torch.zeros_like(x))
    torch.manual_seed(7)
    a = drop(x, 0.5)
    torch.manual_seed(7)
    b = drop(x, 0.5)
    assert torch.equal(a, b)  # masks follow torch's seed
    assert not torch.equal(a, drop(x, 0.5))  # and the generator moves on


def test_evaluation_outputs_unchanged_and_model_restored() -> None:
    model = tiny_bert().eval()
    batch = padded_batch()
    with torch.no_grad():
        before = model(**batch).logits
        with cpu_dropout(model):
            assert model.config._attn_implementation == ATTENTION
            assert any(isinstance(m, CpuDropout) for m in model.modules())
            inside = model(**batch).logits
        after = model(**batch).logits
    assert torch.equal(before, inside) and torch.equal(before, after)
    assert model.config._attn_implementation == "sdpa"
    assert not any(isinstance(m, CpuDropout) for m in model.modules())


def test_attention_path_matches_sdpa_when_nothing_is_dropped() -> None:
    """A drop rate below 1/65536 keeps every element, so the attention's own path (masked
    scores, softmax, the product with the values) must give SDPA's outputs, padding
    masked as SDPA masks it."""
    model = tiny_bert(attention_dropout=1e-9, hidden_dropout=0.0).train()
    batch = padded_batch()
    with torch.no_grad():
        reference = model(**batch).logits  # SDPA, dropping with probability 1e-9
        with cpu_dropout(model):
            ours = model(**batch).logits
    assert torch.allclose(reference, ours, atol=1e-5)


def test_training_drops_and_gradients_flow() -> None:
    model = tiny_bert(attention_dropout=0.5, hidden_dropout=0.5).train()
    batch = padded_batch()
    with cpu_dropout(model):
        torch.manual_seed(3)
        first = model(**batch).logits
        torch.manual_seed(3)
        again = model(**batch).logits
        second = model(**batch).logits
        first.sum().backward()
    assert torch.equal(first, again)  # the same seed, the same masks
    assert not torch.allclose(first, second)  # dropout is on
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert all(g is not None and torch.isfinite(g).all() for g in grads[:4])


def test_other_attention_left_alone() -> None:
    model = tiny_bert()
    model.set_attn_implementation("eager")
    with cpu_dropout(model):
        assert model.config._attn_implementation == "eager"
        assert not any(isinstance(m, CpuDropout) for m in model.modules())
