"""Search methods: which candidates to score and which to keep."""

from highstakes.attacks.search.beam import BeamSearch, GreedySearch

__all__ = ["BeamSearch", "GreedySearch"]
