"""An automatic stand-in for human quality ratings of filtered completions.

The seed measured quality by asking raters to compare a filtered completion with an
unfiltered one for the same prompt; 50% preference for unfiltered means no quality cost.
When no ratings exist yet, we simulate that comparison with a *likelihood rater*: of two
completions for the same prompt it prefers the one the generator itself finds more
natural, i.e. with the higher log-likelihood per token given the prompt.

Why this is a fair stand-in, and where it is not:
- Rejection sampling can only change quality by changing *which* of the generator's own
  completions are shown.  If filtering keeps the generator's distribution of naturalness
  intact (the rater cannot tell filtered from unfiltered), nothing a reader cares about
  that the generator models has moved.  If it pushes toward contorted continuations that
  dodge the obvious injurious turn, their likelihood drops and the rater prefers
  unfiltered.
- Likelihood also rewards bland, generic text (Holtzman et al. 2020, "The Curious Case
  of Neural Text Degeneration": likelihood-maximizing text is repetitive and dull), and
  a conservative filter may favour exactly that.  So the test is two-sided: the filtered
  completions must be neither much *more* nor much less natural than unfiltered ones
  (an equivalence test, Schuirmann 1987), and the length and distinct-2 diversity of
  filtered completions (Li et al. 2016) are reported beside it.
- Per-token (not total) likelihood so that short completions are not preferred for being
  short.  A prompt whose K tries all fail gets the fallback, which the rater always
  rejects: it is not a continuation of the story.
- The rater is noiseless, so its preferences move away from 50% faster than noisy human
  raters' do; its budget errs toward keeping quality (a less conservative threshold).

Inputs are a sample of prompts with several generator completions each, scored by the
classifier and by the generator (`draw_completion_sample`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from highstakes.data.records import Snippet

if TYPE_CHECKING:
    from highstakes.filtering.base import Generator
    from highstakes.models.generator import CausalLM


@dataclass(frozen=True)
class CompletionSample:
    """`m` completions for each of `P` prompts; "" marks a sample with no whole sentence
    (its score and log-likelihood are NaN).  Arrays are (P, m)."""

    prompts: list[str]
    completions: list[list[str]]
    scores: np.ndarray  # classifier P(positive)
    logprob_per_token: np.ndarray  # generator log-likelihood per token, given the prompt

    def __post_init__(self) -> None:
        shape = (len(self.prompts), len(self.completions[0]) if self.completions else 0)
        for name in ("scores", "logprob_per_token"):
            if np.shape(getattr(self, name)) != shape:
                raise ValueError(
                    f"{name} must have shape {shape}, got {np.shape(getattr(self, name))}"
                )
        if any(len(row) != shape[1] for row in self.completions):
            raise ValueError("every prompt needs the same number of completions")

    @property
    def valid(self) -> np.ndarray:
        return np.array([[bool(c) for c in row] for row in self.completions]).reshape(
            self.scores.shape
        )

    def rescored(self, scores: np.ndarray) -> CompletionSample:
        """The same completions with another classifier's scores."""
        return CompletionSample(self.prompts, self.completions, scores, self.logprob_per_token)

    def to_rows(self) -> list[dict[str, Any]]:
        return [
            {
                "prompt": p,
                "completions": c,
                "scores": [None if np.isnan(x) else float(x) for x in s],
                "logprob_per_token": [None if np.isnan(x) else float(x) for x in ll],
            }
            for p, c, s, ll in zip(
                self.prompts, self.completions, self.scores, self.logprob_per_token, strict=True
            )
        ]

    @classmethod
    def from_rows(cls, rows: Sequence[dict[str, Any]]) -> CompletionSample:
        def array(key: str) -> np.ndarray:
            return np.array([[np.nan if x is None else x for x in r[key]] for r in rows], float)

        return cls(
            [r["prompt"] for r in rows],
            [list(r["completions"]) for r in rows],
            array("scores"),
            array("logprob_per_token"),
        )


def draw_completion_sample(
    generator: Generator,
    lm: CausalLM,
    score: Callable[[Sequence[Snippet]], np.ndarray],
    prompts: Sequence[str],
    n_per_prompt: int = 8,
    seed: int = 0,
    chunk: int = 8,
    progress: Callable[[str, int, int], None] | None = None,
) -> CompletionSample:
    """Sample, score and measure the naturalness of `n_per_prompt` completions per prompt.

    `lm` is the generator's model (or any LM standing in for it) for log-likelihoods.
    """
    completions: list[list[str]] = []
    for start in range(0, len(prompts), chunk):
        completions += generator.sample(prompts[start : start + chunk], n_per_prompt, seed + start)
        if progress:
            progress("sampling completions", min(start + chunk, len(prompts)), len(prompts))
    cells = [(i, j) for i, row in enumerate(completions) for j, text in enumerate(row) if text]
    shape = (len(prompts), n_per_prompt)
    scores, logprobs = np.full(shape, np.nan), np.full(shape, np.nan)
    if cells:
        texts = [completions[i][j] for i, j in cells]
        contexts = [prompts[i].rstrip() for i, _ in cells]
        rows, cols = np.array(cells).T
        scores[rows, cols] = score([Snippet(c, t) for c, t in zip(contexts, texts, strict=True)])
        n_tokens = [
            len(lm.tokenizer(" " + t, add_special_tokens=False)["input_ids"]) for t in texts
        ]
        logprobs[rows, cols] = lm.log_likelihood(texts, contexts) / np.maximum(n_tokens, 1)
    return CompletionSample(list(prompts), completions, scores, logprobs)


@dataclass(frozen=True)
class ProxyQuality:
    """The likelihood rater's verdicts per threshold (arrays aligned with `thresholds`)."""

    thresholds: np.ndarray
    preference_for_unfiltered: np.ndarray
    lower: np.ndarray  # bootstrap bounds over prompts, each one-sided at `confidence`
    upper: np.ndarray
    fallback_rate: np.ndarray  # expected share of prompts that get the fallback
    logprob_drop: np.ndarray  # nats/token: unfiltered mean minus filtered mean
    length_ratio: np.ndarray  # words, filtered / unfiltered
    distinct2_ratio: np.ndarray  # distinct bigrams, filtered / unfiltered


def _win_rates(logprobs: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """w[p, j]: chance that another valid completion of prompt p beats completion j
    (ties count half).  Pairs of a completion with itself are left out."""
    lp = np.where(valid, logprobs, 0.0)
    beats = (lp[:, :, None] > lp[:, None, :]) + 0.5 * (lp[:, :, None] == lp[:, None, :])
    pair_ok = valid[:, :, None] & valid[:, None, :] & ~np.eye(valid.shape[1], dtype=bool)
    n_rivals = pair_ok.sum(axis=1)  # (P, m)
    return np.where(n_rivals > 0, (beats * pair_ok).sum(axis=1) / np.maximum(n_rivals, 1), np.nan)


def _distinct2(texts: Sequence[str]) -> float:
    bigrams = [
        tuple(w[i : i + 2]) for w in (t.lower().split() for t in texts) for i in range(len(w) - 1)
    ]
    return len(set(bigrams)) / len(bigrams) if bigrams else np.nan


def proxy_quality(
    sample: CompletionSample,
    thresholds: np.ndarray,
    max_tries: int = 16,
    confidence: float = 0.95,
    n_bootstrap: int = 1000,
    random_state: int = 0,
) -> ProxyQuality:
    """What the likelihood rater says about filtering at each threshold with `max_tries`."""
    valid = sample.valid
    keep = valid.sum(axis=1) >= 2  # a prompt needs two completions to compare
    if not keep.any():
        raise ValueError(
            "no prompt in the completion sample has two whole-sentence completions to compare; "
            "draw more per prompt, raise the generator's token limit, or give human ratings"
        )
    valid, lp = valid[keep], sample.logprob_per_token[keep]
    scores = np.where(valid, sample.scores[keep], np.inf)
    wins = _win_rates(lp, valid)  # (P, m)
    accepted = scores[None] < np.asarray(thresholds)[:, None, None]  # (G, P, m)
    n_accepted = accepted.sum(axis=2)  # (G, P)
    # Each try succeeds with the prompt's observed acceptance share (unusable samples fail).
    fallback = (1 - n_accepted / valid.shape[1]) ** max_tries
    with np.errstate(invalid="ignore", divide="ignore"):
        wins_accepted = np.where(accepted, wins[None], 0).sum(axis=2) / n_accepted
    per_prompt = np.where(n_accepted > 0, fallback + (1 - fallback) * wins_accepted, 1.0)
    rng = np.random.default_rng(random_state)
    n_prompts = per_prompt.shape[1]
    weights = rng.multinomial(n_prompts, np.full(n_prompts, 1 / n_prompts), size=n_bootstrap)
    boot = weights @ per_prompt.T / n_prompts  # (B, G)
    diag = _diagnostics(sample, keep, accepted, lp, valid)
    return ProxyQuality(
        thresholds=np.asarray(thresholds),
        preference_for_unfiltered=per_prompt.mean(axis=1),
        lower=np.quantile(boot, 1 - confidence, axis=0),
        upper=np.quantile(boot, confidence, axis=0),
        fallback_rate=fallback.mean(axis=1),
        **diag,
    )


def _diagnostics(
    sample: CompletionSample,
    keep: np.ndarray,
    accepted: np.ndarray,
    lp: np.ndarray,
    valid: np.ndarray,
) -> dict[str, np.ndarray]:
    """Log-likelihood drop, length and distinct-2 ratios, over prompts with an accepted
    completion.  Distinct-n falls as a text set grows, so both sides use one completion
    per prompt (the first accepted vs the first drawn) to compare sets of equal size."""
    texts = [row for row, k in zip(sample.completions, keep, strict=True) if k]
    words = np.array([[len(t.split()) for t in row] for row in texts], float)
    first_valid = [next(t for t in row if t) for row in texts]
    mean_lp = np.nanmean(np.where(valid, lp, np.nan), axis=1)
    mean_words = np.nanmean(np.where(valid, words, np.nan), axis=1)
    out: dict[str, list[float]] = {"logprob_drop": [], "length_ratio": [], "distinct2_ratio": []}
    for acc in accepted:  # (P, m) per threshold
        has = acc.any(axis=1)
        if not has.any():
            for values in out.values():
                values.append(np.nan)
            continue
        n = acc.sum(axis=1)[has]
        lp_acc = np.where(acc, lp, 0).sum(axis=1)[has] / n
        words_acc = np.where(acc, words, 0).sum(axis=1)[has] / n
        out["logprob_drop"].append(float(np.mean(mean_lp[has] - lp_acc)))
        out["length_ratio"].append(float(words_acc.mean() / mean_words[has].mean()))
        firsts = [texts[p][int(np.argmax(acc[p]))] for p in np.flatnonzero(has)]
        base = [first_valid[p] for p in np.flatnonzero(has)]
        out["distinct2_ratio"].append(_distinct2(firsts) / _distinct2(base))
    return {k: np.array(v) for k, v in out.items()}
