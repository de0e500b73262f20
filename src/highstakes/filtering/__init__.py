"""Generate-then-filter: sample story continuations and keep one the classifier accepts.

`Generator` backends live in `generators` (the protocol and the OpenAI-compatible endpoint,
torch-free) and `local` (Hugging Face models in this process); `filter` holds the
rejection sampler and its cost report.
"""

from highstakes.filtering.filter import (
    DEFAULT_FALLBACK,
    CallableScorer,
    FilteredCompletion,
    FilterReport,
    FilterResult,
    RejectionFilter,
    SnippetScorer,
)
from highstakes.filtering.generators import EndpointGenerator, Generator, Usage, load_generator

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
