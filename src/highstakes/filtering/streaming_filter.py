"""The rejection sampler of `filter.RejectionFilter` on top of `StreamingSampler`: per
prompt, up to `max_tries` streamed samples in batches of `batch_size`, the first accepted
one returned; with a `scorer` (the separate classifier) a head-accepted sample must also
pass it (`--filter both`).  The sampler stops a sample once the head's score crosses."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from highstakes.data.records import Snippet
from highstakes.filtering.base import Usage
from highstakes.filtering.filter import (
    DEFAULT_FALLBACK,
    FilteredCompletion,
    FilterReport,
    PromptState,
    SnippetScorer,
    checked_tries,
    report_of,
)
from highstakes.filtering.streaming import StreamedSample, StreamingSampler


@dataclass(frozen=True)
class StreamingResult:
    completions: list[FilteredCompletion]
    # counts and costs; classifier_* are the separate classifier's (zero without one)
    report: FilterReport
    head_usage: Usage = field(default_factory=Usage)
    head_flops: float | None = None
    n_head_rejected: int = 0
    n_classifier_rejected: int = 0

    def as_dict(self) -> dict[str, Any]:
        gen = self.report.generator_usage
        ratio = self.head_usage.seconds / gen.seconds if gen.seconds else float("nan")
        flops = self.report.generator_flops
        return {
            **self.report.as_dict(),
            "head": {**self.head_usage.as_dict(), "flops": self.head_flops},
            "head_flops_fraction": None
            if self.head_flops is None or not flops
            else self.head_flops / flops,
            "head_time_fraction": ratio,
            "n_head_rejected": self.n_head_rejected,
            "n_classifier_rejected": self.n_classifier_rejected,
        }


class StreamingFilter:
    """Per prompt, the first streamed sample the head (and, with `scorer`, the separate
    classifier at `scorer_threshold`) accepts; the fallback after `max_tries` samples."""

    def __init__(
        self,
        sampler: StreamingSampler,
        scorer: SnippetScorer | None = None,
        scorer_threshold: float | None = None,
        max_tries: int = 16,
        batch_size: int = 4,
        fallback: str = DEFAULT_FALLBACK,
    ) -> None:
        if scorer is not None and scorer_threshold is None:
            raise ValueError("a scorer needs its threshold")
        self.sampler = sampler
        self.scorer = scorer
        self.scorer_threshold = scorer_threshold
        self.max_tries, self.batch_size = checked_tries(max_tries, batch_size)
        self.fallback = fallback

    def complete(self, prompts: Sequence[str], seed: int | None = None) -> StreamingResult:
        gen0, head0 = Usage() + self.sampler.usage, Usage() + self.sampler.head_usage
        clf0 = Usage() + (self.scorer.usage if self.scorer else Usage())
        states = [PromptState() for _ in prompts]
        rejected = {"head": 0, "classifier": 0}
        pending, drawn = list(range(len(prompts))), 0
        while pending:
            k = min(self.batch_size, self.max_tries - drawn)
            flat = [prompts[i] for i in pending for _ in range(k)]
            samples = self.sampler.sample(flat, None if seed is None else seed + drawn)
            groups = [samples[j * k : (j + 1) * k] for j in range(len(pending))]
            self._judge(prompts, pending, groups, states, rejected, first=drawn == 0)
            drawn += k
            pending = [
                i for i in pending if states[i].completion is None and drawn < self.max_tries
            ]
        return self._result(prompts, states, rejected, gen0, head0, clf0)

    def _judge(
        self,
        prompts: Sequence[str],
        pending: list[int],
        groups: list[list[StreamedSample]],
        states: list[PromptState],
        rejected: dict[str, int],
        first: bool,
    ) -> None:
        """Count one round of samples and accept, per prompt, the first that passes."""
        candidates = [(i, s) for i, g in zip(pending, groups, strict=True) for s in g if s.text]
        clf_scores: list[float | None] = [None] * len(candidates)
        if self.scorer is not None and candidates:
            snippets = [Snippet(prompts[i], s.text) for i, s in candidates]
            clf_scores = [float(x) for x in self.scorer.score(snippets)]
        verdict = {id(s): c for (_, s), c in zip(candidates, clf_scores, strict=True)}
        for i, group in zip(pending, groups, strict=True):
            state = states[i]
            for sample in group:
                state.n_samples += 1
                if not sample.text and not sample.rejected:
                    state.n_unusable += 1
                    continue
                clf = verdict.get(id(sample))
                by_clf = clf is not None and clf >= (self.scorer_threshold or 1.0)
                flagged = sample.rejected or by_clf
                rejected["head"] += sample.rejected
                rejected["classifier"] += by_clf
                state.n_flagged += flagged
                if first:
                    state.first_scored += 1
                    state.first_flagged += flagged
                if not flagged and state.completion is None:
                    state.completion = sample.text
                    state.score = clf if clf is not None else sample.head_score

    def _result(
        self,
        prompts: Sequence[str],
        states: list[PromptState],
        rejected: dict[str, int],
        gen0: Usage,
        head0: Usage,
        clf0: Usage,
    ) -> StreamingResult:
        gen = self.sampler.usage - gen0
        head = self.sampler.head_usage - head0
        clf = (self.scorer.usage - clf0) if self.scorer else Usage()
        report = report_of(
            states, gen, clf, gen.flops(self.sampler.n_parameters),
            clf.flops(self.scorer.n_parameters) if self.scorer else 0.0,
        )  # fmt: skip
        completions = [s.result(p, self.fallback) for p, s in zip(prompts, states, strict=True)]
        return StreamingResult(
            completions,
            report,
            head,
            head.flops(self.sampler.head_n_parameters),
            rejected["head"],
            rejected["classifier"],
        )
