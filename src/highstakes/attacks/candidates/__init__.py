"""Where substitution and insertion candidates come from: each source proposes words for
one position of a snippet; `highstakes.attacks.menu` scores them with the classifier."""

from highstakes.attacks.candidates.base import CandidateSource, Proposal

__all__ = ["CandidateSource", "Proposal"]
