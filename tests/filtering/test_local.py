"""The in-process backends on a tiny randomly initialized Llama and the tiny BERT."""

from __future__ import annotations

from pathlib import Path

import torch

from highstakes.data.records import Snippet
from highstakes.filtering.filter import RejectionFilter
from highstakes.filtering.local import (
    ClassifierScorer,
    LocalGenerator,
    _SentenceStop,
    matmul_parameters,
    sentence_complete,
)
from highstakes.models.classifier import Classifier
from highstakes.models.generator import CausalLM

PROMPTS = ["The knight rode into the valley.", "The dragon waited by the river."]


def test_sentence_complete_waits_for_the_next_sentence() -> None:
    assert not sentence_complete(" He fell down the stairs.")  # a quote could still follow
    assert sentence_complete(" He fell down the stairs. Then")
    assert sentence_complete(' "Run!" she said.\nLater')
    assert not sentence_complete(" and then the")


def test_stop_criterion_marks_each_sequence_once(tiny_causal_lm: CausalLM) -> None:
    tok = tiny_causal_lm.tokenizer
    done = tok(" The wind was cold. The", add_special_tokens=False)["input_ids"]
    running = tok(" The wind was cold and the", add_special_tokens=False)["input_ids"]
    width = max(len(done), len(running))
    pad = tok.pad_token_id
    ids = torch.tensor([[pad] * (width - len(seq)) + seq for seq in (done, running)])
    prompt = torch.zeros((2, 3), dtype=torch.long) + 5
    stop = _SentenceStop(tok, prompt_width=3, batch=2)
    flags = stop(torch.cat([prompt, ids], dim=1), None)
    assert flags.tolist() == [True, False]
    assert stop.n_generated(steps=width + 4) == width + width + 4


def test_matmul_parameters_skip_lookup_tables(
    tiny_causal_lm: CausalLM, tiny_model_dir: Path
) -> None:
    clf = Classifier.from_pretrained(tiny_model_dir)
    total = sum(p.numel() for p in clf.model.parameters())
    lookups = sum(
        m.weight.numel() for m in clf.model.modules() if isinstance(m, torch.nn.Embedding)
    )
    assert matmul_parameters(clf.model) == total - lookups
    # The tiny Llama's output projection is its own matrix: it counts, the input table not.
    lm = tiny_causal_lm.model
    n_in = lm.get_input_embeddings().weight.numel()
    assert matmul_parameters(lm) == sum(p.numel() for p in lm.parameters()) - n_in


def test_local_generator_is_seeded_and_counts_tokens(tiny_causal_lm: CausalLM) -> None:
    gen = LocalGenerator(tiny_causal_lm, max_new_tokens=12, batch_size=3)
    first = gen.sample(PROMPTS, n=2, seed=1)
    assert [len(row) for row in first] == [2, 2]
    assert gen.sample(PROMPTS, n=2, seed=1) == first
    assert gen.usage.n_calls == 2 and gen.usage.seconds > 0
    assert 0 < gen.usage.n_generated_tokens <= 2 * 4 * 12
    assert gen.usage.n_input_tokens >= 2 * 4 * 5


def test_filter_with_real_backends_reports_compute(
    tiny_causal_lm: CausalLM, tiny_model_dir: Path
) -> None:
    gen = LocalGenerator(tiny_causal_lm, max_new_tokens=8)
    scorer = ClassifierScorer(Classifier.from_pretrained(tiny_model_dir))
    scores = scorer.score([Snippet(PROMPTS[0], "He rode on and on.")])
    assert scores.shape == (1,) and scorer.usage.n_input_tokens > 5
    result = RejectionFilter(gen, scorer, threshold=1.0, max_tries=4, batch_size=2).complete(
        PROMPTS, seed=0
    )
    report = result.report
    assert report.n_samples == sum(c.n_samples for c in result.completions)
    assert report.generator_flops is not None and report.generator_flops > 0
    if report.n_scored:  # the random LM rarely writes a whole sentence, but when it does
        assert report.classifier_flops_fraction is not None and report.classifier_flops_fraction > 0
