"""Generate-then-filter by rejection sampling, with an account of what it cost.

For each prompt the filter draws `batch_size` completions at a time, scores them all in
one classifier call, and returns the first (in sampling order) whose score is under the
threshold.  A prompt with no accepted completion after `max_tries` samples gets the
fallback text.  Every call reports how many samples were drawn and rejected, and the
classifier's share of compute (estimated FLOPs and measured wall time) next to the
generator's.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from highstakes.data.records import Snippet
from highstakes.filtering.base import Generator, Usage

# Returned when no sample passes.  Empty by default so a caller can tell; a product would
# set a neutral sentence that fits any story, e.g. "Nothing more happened that day."
DEFAULT_FALLBACK = ""


class SnippetScorer(Protocol):
    """Scores snippets (P(positive)); `usage` and `n_parameters` as for `Generator`."""

    n_parameters: int | None
    usage: Usage

    def score(self, snippets: Sequence[Snippet]) -> np.ndarray: ...


class CallableScorer:
    """A plain function as a scorer (a remote classifier, a test's fake).  Its FLOPs are
    unknown unless `n_parameters` and `count_tokens` are given."""

    def __init__(
        self,
        fn: Callable[[Sequence[Snippet]], np.ndarray],
        n_parameters: int | None = None,
        count_tokens: Callable[[Snippet], int] | None = None,
    ) -> None:
        self.fn = fn
        self.n_parameters = n_parameters
        self.count_tokens = count_tokens
        self.usage = Usage()

    def score(self, snippets: Sequence[Snippet]) -> np.ndarray:
        import time

        t0 = time.perf_counter()
        scores = np.asarray(self.fn(snippets), dtype=np.float64)
        self.usage.seconds += time.perf_counter() - t0
        self.usage.n_calls += 1
        if self.count_tokens is not None:
            self.usage.n_input_tokens += sum(self.count_tokens(s) for s in snippets)
        return scores


@dataclass(frozen=True)
class FilteredCompletion:
    prompt: str
    completion: str  # the accepted sample, or the fallback
    score: float | None  # classifier score of the accepted sample; None for the fallback
    accepted: bool  # False when the fallback was returned
    n_samples: int  # samples drawn for this prompt
    n_flagged: int  # samples the classifier rejected
    n_unusable: int  # samples without a complete sentence (never scored)


def _add_optional(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a + b


def _ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None:
        return None
    return a / b if b > 0 else math.nan


@dataclass(frozen=True)
class FilterReport:
    """Counts and costs of one or more filter calls (reports add with `+`)."""

    n_prompts: int = 0
    n_accepted: int = 0  # prompts that got a classifier-accepted completion
    n_samples: int = 0
    n_unusable: int = 0
    n_scored: int = 0
    n_flagged: int = 0
    # Scored and flagged in each prompt's first batch only.  Hard prompts draw more
    # batches, so the pooled rate over-weights them; the first batch is an unbiased
    # sample of the generator's completions for every prompt alike.
    n_first_scored: int = 0
    n_first_flagged: int = 0
    generator_usage: Usage = field(default_factory=Usage)
    classifier_usage: Usage = field(default_factory=Usage)
    # None when a model's size is unknown; the empty report (no work yet) has 0.
    generator_flops: float | None = 0.0
    classifier_flops: float | None = 0.0

    def __add__(self, other: FilterReport) -> FilterReport:
        counts = {
            name: getattr(self, name) + getattr(other, name)
            for name in (
                "n_prompts",
                "n_accepted",
                "n_samples",
                "n_unusable",
                "n_scored",
                "n_flagged",
                "n_first_scored",
                "n_first_flagged",
            )
        }
        return FilterReport(
            **counts,
            generator_usage=self.generator_usage + other.generator_usage,
            classifier_usage=self.classifier_usage + other.classifier_usage,
            generator_flops=_add_optional(self.generator_flops, other.generator_flops),
            classifier_flops=_add_optional(self.classifier_flops, other.classifier_flops),
        )

    @property
    def rejection_rate(self) -> float:
        """Share of the generator's completions the classifier rejects (first batches)."""
        return self.n_first_flagged / self.n_first_scored if self.n_first_scored else math.nan

    @property
    def pooled_rejection_rate(self) -> float:
        return self.n_flagged / self.n_scored if self.n_scored else math.nan

    @property
    def fallback_rate(self) -> float:
        return 1 - self.n_accepted / self.n_prompts if self.n_prompts else math.nan

    @property
    def samples_per_accepted(self) -> float:
        return self.n_samples / self.n_accepted if self.n_accepted else math.inf

    @property
    def classifier_flops_fraction(self) -> float | None:
        """Classifier FLOPs as a fraction of generator FLOPs (None when either is unknown)."""
        return _ratio(self.classifier_flops, self.generator_flops)

    @property
    def classifier_time_fraction(self) -> float:
        ratio = _ratio(self.classifier_usage.seconds, self.generator_usage.seconds)
        return math.nan if ratio is None else ratio

    def as_dict(self) -> dict[str, Any]:
        return {
            "n_prompts": self.n_prompts,
            "n_accepted": self.n_accepted,
            "n_samples": self.n_samples,
            "n_unusable": self.n_unusable,
            "n_scored": self.n_scored,
            "n_flagged": self.n_flagged,
            "rejection_rate": self.rejection_rate,
            "pooled_rejection_rate": self.pooled_rejection_rate,
            "fallback_rate": self.fallback_rate,
            "samples_per_accepted": self.samples_per_accepted,
            "generator": {**self.generator_usage.as_dict(), "flops": self.generator_flops},
            "classifier": {**self.classifier_usage.as_dict(), "flops": self.classifier_flops},
            "classifier_flops_fraction": self.classifier_flops_fraction,
            "classifier_time_fraction": self.classifier_time_fraction,
        }


@dataclass(frozen=True)
class FilterResult:
    completions: list[FilteredCompletion]
    report: FilterReport


@dataclass
class PromptState:
    """One prompt's tally while its samples are judged (the rejection and the streaming
    filter both keep one per prompt)."""

    completion: str | None = None
    score: float | None = None
    n_samples: int = 0
    n_flagged: int = 0
    n_unusable: int = 0
    first_scored: int = 0
    first_flagged: int = 0

    def result(self, prompt: str, fallback: str) -> FilteredCompletion:
        """The prompt's outcome: its accepted completion, or `fallback`."""
        return FilteredCompletion(
            prompt=prompt,
            completion=self.completion if self.completion is not None else fallback,
            score=self.score,
            accepted=self.completion is not None,
            n_samples=self.n_samples,
            n_flagged=self.n_flagged,
            n_unusable=self.n_unusable,
        )


def checked_tries(max_tries: int, batch_size: int) -> tuple[int, int]:
    """A rejection sampler's samples per prompt and per batch, refused below one."""
    if max_tries < 1 or batch_size < 1:
        raise ValueError("max_tries and batch_size must be at least 1")
    return max_tries, batch_size


class RejectionFilter:
    """Return, per prompt, a sampled completion the classifier accepts (score < threshold).

    `report_` holds the totals over every call so far.
    """

    def __init__(
        self,
        generator: Generator,
        scorer: SnippetScorer,
        threshold: float,
        max_tries: int = 16,
        batch_size: int = 4,
        fallback: str = DEFAULT_FALLBACK,
    ) -> None:
        if not 0 < threshold <= 1:
            raise ValueError(f"threshold must be in (0, 1], got {threshold}")
        self.generator = generator
        self.scorer = scorer
        self.threshold = threshold
        self.max_tries, self.batch_size = checked_tries(max_tries, batch_size)
        self.fallback = fallback
        self.report_ = FilterReport()

    def complete(self, prompts: Sequence[str], seed: int | None = None) -> FilterResult:
        gen_before = Usage() + self.generator.usage  # copies
        clf_before = Usage() + self.scorer.usage
        states = [PromptState() for _ in prompts]
        pending = list(range(len(prompts)))
        drawn = 0
        while pending:
            k = min(self.batch_size, self.max_tries - drawn)
            # A new seed per round so a rerun reproduces the run but rounds differ.
            round_seed = None if seed is None else seed + drawn
            samples = self.generator.sample([prompts[i] for i in pending], k, round_seed)
            self._judge(prompts, pending, samples, states, first=drawn == 0)
            drawn += k
            pending = [
                i for i in pending if states[i].completion is None and drawn < self.max_tries
            ]
        report = self._report(states, gen_before, clf_before)
        self.report_ = self.report_ + report
        return FilterResult(
            [s.result(p, self.fallback) for p, s in zip(prompts, states, strict=True)], report
        )

    def _judge(
        self,
        prompts: Sequence[str],
        pending: list[int],
        samples: list[list[str]],
        states: list[PromptState],
        first: bool,
    ) -> None:
        """Score one round of samples and accept, per prompt, the first one under threshold."""
        usable = [(i, text) for i, texts in zip(pending, samples, strict=True) for text in texts]
        to_score = [(i, t) for i, t in usable if t]
        snippets = [Snippet(prompts[i], t) for i, t in to_score]
        scores = self.scorer.score(snippets) if snippets else np.zeros(0)
        for i, texts in zip(pending, samples, strict=True):
            states[i].n_samples += len(texts)
            states[i].n_unusable += sum(1 for t in texts if not t)
        for (i, text), score in zip(to_score, scores, strict=True):
            state = states[i]
            flagged = bool(score >= self.threshold)
            state.n_flagged += flagged
            if first:
                state.first_scored += 1
                state.first_flagged += flagged
            if not flagged and state.completion is None:
                state.completion, state.score = text, float(score)

    def _report(
        self, states: list[PromptState], gen_before: Usage, clf_before: Usage
    ) -> FilterReport:
        gen = self.generator.usage - gen_before
        clf = self.scorer.usage - clf_before
        return report_of(
            states, gen, clf, gen.flops(self.generator.n_parameters),
            clf.flops(self.scorer.n_parameters),
        )  # fmt: skip


def report_of(
    states: Sequence[PromptState],
    gen: Usage,
    clf: Usage,
    gen_flops: float | None,
    clf_flops: float | None,
) -> FilterReport:
    """The counts of a filter run over its per-prompt states (both filters')."""
    return FilterReport(
        n_prompts=len(states),
        n_accepted=sum(s.completion is not None for s in states),
        n_samples=sum(s.n_samples for s in states),
        n_unusable=sum(s.n_unusable for s in states),
        n_scored=sum(s.n_samples - s.n_unusable for s in states),
        n_flagged=sum(s.n_flagged for s in states),
        n_first_scored=sum(s.first_scored for s in states),
        n_first_flagged=sum(s.first_flagged for s in states),
        generator_usage=gen,
        classifier_usage=clf,
        generator_flops=gen_flops,
        classifier_flops=clf_flops,
    )
