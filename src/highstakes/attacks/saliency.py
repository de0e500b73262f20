"""Which words drive the classifier's score: per-word saliency for display and search.

Three methods, all on the classifier's input embeddings and the positive-class log-odds
(logit_yes - logit_no):
- gradient-norm: the L2 norm of the gradient at each token's embedding; what the seed
  project's rewriting tool highlighted (Ziegler et al., 2022, section 4.3).
- gradient-x-input: |gradient . embedding| per token.
- integrated-gradients: Sundararajan et al. (2017) from a zero-embedding baseline, via
  captum, with all interpolation steps in one batch.
Token scores are summed into words (by character offsets) and divided by the largest, so
the most salient word scores 1.0.  The classifier reads text with directional overrides in
the order it is shown (`models.normalize.reading_order`), so saliency is taken on that text
and its tokens are placed back on the stored words (`reading_positions`).
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import torch

from highstakes.attacks.text import FIELDS, Field, Word, snippet_words
from highstakes.data.records import Snippet
from highstakes.models.classifier import POSITIVE_INDEX, Classifier
from highstakes.models.normalize import reading_positions

Positions = dict[Field, list[int]]  # per field: the stored index of each character as read


class SaliencyMethod(StrEnum):
    GRADIENT_NORM = "gradient-norm"
    GRADIENT_X_INPUT = "gradient-x-input"
    INTEGRATED_GRADIENTS = "integrated-gradients"


@dataclass(frozen=True, slots=True)
class WordSaliency:
    word: Word
    score: float  # normalized: the most salient word of the snippet is 1.0
    raw: float


def _log_odds_fn(clf: Classifier, extra: dict[str, torch.Tensor]) -> Any:
    def forward(embeds: torch.Tensor) -> torch.Tensor:  # (B, T, C) -> (B,)
        n = embeds.shape[0]
        batch = {k: v.expand(n, -1) for k, v in extra.items()}
        logits = clf.model(inputs_embeds=embeds, **batch).logits.float()
        return logits[:, POSITIVE_INDEX] - logits[:, 1 - POSITIVE_INDEX]

    return forward


def token_saliency(
    clf: Classifier, snippet: Snippet, method: SaliencyMethod, ig_steps: int = 16
) -> tuple[torch.Tensor, Any]:
    """(T,) token scores and the tokenizer's encoding (its offsets are in the text as
    read: see `reading_positions`)."""
    enc, _ = _encode(clf, [snippet])
    return _token_scores(clf, enc, method, ig_steps), enc


def _token_scores(clf: Classifier, enc: Any, method: SaliencyMethod, ig_steps: int) -> torch.Tensor:
    """(T,) token scores of a one-snippet encoding."""
    if method is not SaliencyMethod.INTEGRATED_GRADIENTS:
        return _gradient_scores(clf, enc, method)[0]
    from captum.attr import IntegratedGradients

    extra = _model_inputs(clf, enc)
    clf.model.eval()
    embeds = clf.model.get_input_embeddings()(enc["input_ids"].to(clf.device)).detach()
    attributions = IntegratedGradients(_log_odds_fn(clf, extra)).attribute(
        embeds,
        baselines=torch.zeros_like(embeds),
        n_steps=ig_steps,
        internal_batch_size=ig_steps,
    )
    return attributions[0].sum(-1).abs().detach().float().cpu()


def _encode(clf: Classifier, snippets: Sequence[Snippet]) -> tuple[Any, list[Positions]]:
    """(prompt, completion) pairs as the classifier reads them, padded, with offsets, and
    where each character read lies in the stored text."""
    laid = [{f: reading_positions(getattr(s, f)) for f in FIELDS} for s in snippets]
    enc = clf.tokenizer(
        [r["prompt"][0] for r in laid],
        [r["completion"][0] for r in laid],
        truncation="only_first",
        max_length=clf.max_length,
        padding=True,
        return_offsets_mapping=True,
        return_tensors="pt",
    )
    return enc, [{f: r[f][1] for f in FIELDS} for r in laid]


def _model_inputs(clf: Classifier, enc: Any) -> dict[str, torch.Tensor]:
    """An encoding's tensors the model takes besides the token ids."""
    return {k: v.to(clf.device) for k, v in enc.items() if k not in ("input_ids", "offset_mapping")}


def _gradient_scores(clf: Classifier, enc: Any, method: SaliencyMethod) -> torch.Tensor:
    """(B, T) gradient-norm or gradient-x-input token scores of an encoded batch."""
    clf.model.eval()
    embeds = clf.model.get_input_embeddings()(enc["input_ids"].to(clf.device)).detach()
    embeds.requires_grad_(True)
    logits = clf.model(inputs_embeds=embeds, **_model_inputs(clf, enc)).logits.float()
    log_odds = logits[:, POSITIVE_INDEX] - logits[:, 1 - POSITIVE_INDEX]
    (grad,) = torch.autograd.grad(log_odds.sum(), embeds)  # rows do not mix: per-row grads
    if method is SaliencyMethod.GRADIENT_NORM:
        scores = grad.norm(dim=-1)
    else:
        scores = (grad * embeds).sum(-1).abs()
    return scores.detach().float().cpu()


def word_saliency(
    clf: Classifier,
    snippet: Snippet,
    method: SaliencyMethod | str = SaliencyMethod.GRADIENT_NORM,
    ig_steps: int = 16,
) -> list[WordSaliency]:
    """Saliency of every word of the prompt, then the completion (normalized to max 1)."""
    enc, (positions,) = _encode(clf, [snippet])
    scores = _token_scores(clf, enc, SaliencyMethod(method), ig_steps)
    offsets = enc["offset_mapping"][0].tolist()
    return _words(snippet, scores.tolist(), offsets, enc.sequence_ids(0), positions)


def word_saliency_many(
    clf: Classifier,
    snippets: Sequence[Snippet],
    method: SaliencyMethod | str = SaliencyMethod.GRADIENT_NORM,
    batch_size: int = 32,
) -> list[list[WordSaliency]]:
    """`word_saliency` of each snippet, the gradient methods a padded batch at a time (the
    rows do not mix, so each equals its snippet's own up to float rounding); integrated
    gradients one snippet at a time."""
    method = SaliencyMethod(method)
    if method is SaliencyMethod.INTEGRATED_GRADIENTS:
        return [word_saliency(clf, s, method) for s in snippets]
    out = []
    for start in range(0, len(snippets), batch_size):
        part = snippets[start : start + batch_size]
        enc, positions = _encode(clf, part)
        scores = _gradient_scores(clf, enc, method)
        for i, snippet in enumerate(part):
            offsets = enc["offset_mapping"][i].tolist()
            found = _words(snippet, scores[i].tolist(), offsets, enc.sequence_ids(i), positions[i])
            out.append(found)
    return out


def _words(
    snippet: Snippet,
    scores: list[float],
    offsets: list[list[int]],
    sequence_ids: list[int | None],
    positions: Positions,
) -> list[WordSaliency]:
    """Token scores summed into the snippet's stored words (a token goes to the word its
    first character is shown from), normalized to max 1."""
    words = snippet_words(snippet)
    starts = {f: [w.start for w in words[f]] for f in FIELDS}
    raw = {f: [0.0] * len(words[f]) for f in FIELDS}
    for t, seq in enumerate(sequence_ids):
        a, b = offsets[t]
        if seq is None or b <= a:
            continue
        field = FIELDS[seq]
        a = positions[field][a]
        i = bisect.bisect_right(starts[field], a) - 1
        if 0 <= i < len(words[field]) and a < words[field][i].end:
            raw[field][i] += float(scores[t])
    top = max([*raw["prompt"], *raw["completion"], 1e-12])
    return [
        WordSaliency(w, raw[f][w.index] / top, raw[f][w.index]) for f in FIELDS for w in words[f]
    ]
