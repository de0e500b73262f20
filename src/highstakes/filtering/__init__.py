"""Generate-then-filter: sample story continuations and keep one the classifier accepts.

`base` holds what the parts share (the `Generator` protocol and `Usage`); generator
backends live in `generators` (the OpenAI-compatible endpoint and `load_generator`,
torch-free) and `local` (Hugging Face models in this process); `filter` holds the
rejection sampler and its cost report.  The head on the generator's own states lives in
`features` (hidden states per completion token), `head` (the probe, its threshold under
the streaming rule) and `streaming` (the sampler that scores while it generates); they
import torch, so they are imported from there, not here.
"""

from highstakes.filtering.base import Generator, Usage
from highstakes.filtering.filter import (
    DEFAULT_FALLBACK,
    CallableScorer,
    FilteredCompletion,
    FilterReport,
    FilterResult,
    RejectionFilter,
    SnippetScorer,
)
from highstakes.filtering.generators import EndpointGenerator, load_generator

__all__ = [
    "DEFAULT_FALLBACK",
    "CallableScorer",
    "EndpointGenerator",
    "FilterReport",
    "FilterResult",
    "FilteredCompletion",
    "Generator",
    "RejectionFilter",
    "SnippetScorer",
    "Usage",
    "load_generator",
]
