"""The records everything else passes around: a snippet, and a labeled example with provenance."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any


class Label(StrEnum):
    """A labeler's answer under the labeling guide."""

    YES = "yes"
    NO = "no"
    UNSURE = "unsure"


class Source(StrEnum):
    """Where an example's text came from."""

    RANDOM = "random"  # a random sample of data, as in the seed's initial set
    GENERATOR = "generator"  # a completion sampled from the story generator
    HANDWRITTEN = "handwritten"  # written by a person (or writer) for the data set
    HUMAN_ATTACK = "human-attack"  # written from scratch in the studio to fool the classifier
    TOOL_ASSISTED = "tool-assisted"  # a rewrite in the studio with saliency and substitution tools
    PARAPHRASE = "paraphrase"  # a language model's paraphrase of an earlier example
    AUTO_ATTACK = "auto-attack"  # an automatic attack's output


@dataclass(frozen=True, slots=True)
class Snippet:
    """A prompt (the story so far, three sentences) and the one-sentence completion to judge."""

    prompt: str
    completion: str

    def key(self) -> str:
        """A stable id for the text pair, used to de-duplicate."""
        digest = hashlib.sha256(f"{self.prompt}\x1f{self.completion}".encode()).hexdigest()
        return digest[:16]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Provenance:
    """Who made an example, against which classifier, and at what cost."""

    source: Source
    round: int = 0
    target_version: str | None = None  # classifier version the example was aimed at
    author: str | None = None
    labelers: tuple[str, ...] = ()
    seconds_spent: float | None = None  # active seconds the author spent
    parent_id: str | None = None  # the example this one was derived from
    created_at: datetime = field(default_factory=utc_now)


@dataclass(frozen=True, slots=True)
class Example:
    """A labeled snippet with its provenance.

    `genre` and `split` are optional: `split` pins an example to train/valid/test (the demo
    set's fixed test split); when absent, splits are assigned by hashing the prompt.
    `tags` carries free-form string metadata (e.g. the demo set's hard-negative kind).
    """

    id: str
    snippet: Snippet
    label: Label
    provenance: Provenance
    genre: str | None = None
    split: str | None = None
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def prompt(self) -> str:
        return self.snippet.prompt

    @property
    def completion(self) -> str:
        return self.snippet.completion

    def to_record(self) -> dict[str, Any]:
        """Flat, JSON-friendly dict; the inverse of `highstakes.data.io.parse_record`."""
        p = self.provenance
        return {
            "id": self.id,
            "prompt": self.snippet.prompt,
            "completion": self.snippet.completion,
            "label": self.label.value,
            "source": p.source.value,
            "round": p.round,
            "target_version": p.target_version,
            "author": p.author,
            "labelers": list(p.labelers),
            "seconds_spent": p.seconds_spent,
            "parent_id": p.parent_id,
            "created_at": p.created_at.isoformat(),
            "genre": self.genre,
            "split": self.split,
            "tags": dict(self.tags),
        }


SPLITS = ("train", "valid", "test")
