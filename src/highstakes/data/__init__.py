"""Records, readers and writers, splits and the shipped demo set."""

from highstakes.data.records import Example, Label, Provenance, Snippet, Source

__all__ = ["Example", "Label", "Provenance", "Snippet", "Source"]
