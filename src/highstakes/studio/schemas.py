"""Request and response bodies of the JSON API, named for the direction data flows."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from highstakes.store.work import MAX_TEXT

Text = Field(min_length=1, max_length=MAX_TEXT)
MAX_ID = 2**31 - 1  # ids beyond a 32-bit integer cannot exist; refuse them early


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SnippetIn(Strict):
    prompt: str = Text
    completion: str = Text


class ScorePublic(BaseModel):
    score: float
    target_threshold: float | None
    version: str


class WordPublic(BaseModel):
    field: Literal["prompt", "completion"]
    index: int
    text: str
    start: int
    end: int
    saliency: float


class SaliencyPublic(BaseModel):
    words: list[WordPublic]
    version: str


class MenuIn(SnippetIn):
    field: Literal["prompt", "completion"]
    index: int = Field(ge=0, le=MAX_TEXT)
    kind: Literal["replace", "insert"] = "replace"


class MenuItemPublic(BaseModel):
    word: str
    source: str
    score: float
    fluent: bool = True  # keeps the sentence grammatical (the menu lists these first)
    fluency: float | None = None  # LM log-likelihood change of the edited stretch, nats
    prompt: str  # the snippet with this edit applied
    completion: str


class MenuPublic(BaseModel):
    items: list[MenuItemPublic]
    version: str


class HeartbeatIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    active_ms: int = Field(ge=0, le=3_600_000)
    prompt: str = Field("", max_length=MAX_TEXT)
    completion: str = Field("", max_length=MAX_TEXT)


class SubmitIn(SnippetIn):
    active_ms: int = Field(0, ge=0, le=3_600_000)
    # the attacker's statement that the rewrite is still injurious under the guide
    still_injurious: bool


class SkipIn(Strict):
    active_ms: int = Field(0, ge=0, le=3_600_000)


class SubmissionPublic(BaseModel):
    task_id: int
    snippet_id: int
    score: float
    status: str


class TaskPublic(BaseModel):
    task_id: int
    kind: str
    prompt: str
    completion: str
    target_threshold: float | None


class ToLabelPublic(BaseModel):
    snippet_id: int
    prompt: str
    completion: str


class LabelIn(Strict):
    snippet_id: int = Field(ge=1, le=MAX_ID)
    label: Literal["yes", "no", "unsure"]


class LabelPublic(BaseModel):
    snippet_id: int
    label_status: str


class PairPublic(BaseModel):
    pair_id: int
    prompt: str
    a: str
    b: str


class RatingIn(Strict):
    pair_id: int = Field(ge=1, le=MAX_ID)
    choice: Literal["a", "b", "same"]


class RatingPublic(BaseModel):
    pair_id: int
    recorded: bool


class UserIn(Strict):
    username: str = Field(min_length=2, max_length=64)
    password: str = Field(min_length=8, max_length=256)
    role: Literal["admin", "attacker", "labeler", "rater"]


class UserPublic(BaseModel):
    id: int
    username: str
    role: str


class LockoutPublic(BaseModel):
    username: str
    n_failures: int
    locked_until: datetime
    seconds_left: int
    account_exists: bool


class UnlockIn(Strict):
    username: str = Field(min_length=1, max_length=64)


class UnlockPublic(BaseModel):
    username: str
    n_cleared: int


class SettingsIn(Strict):
    target_threshold: float | None = Field(None, gt=0, le=1)
    labels_per_snippet: int | None = Field(None, ge=1, le=10)


class VersionIn(Strict):
    name: str = Field(min_length=1, max_length=128)
    path: str = Field(min_length=1, max_length=1000)
    round: int = Field(0, ge=0, le=1_000_000)
    threshold: float | None = Field(None, gt=0, le=1)


class VersionPublic(BaseModel):
    id: int
    name: str
    round: int
    threshold: float
    active: bool


class ResolveIn(Strict):
    snippet_id: int = Field(ge=1, le=MAX_ID)
    label: Literal["yes", "no", "unsure"]


class NewSnippetIn(SnippetIn):
    source: Literal["paraphrase", "generator", "auto-attack", "handwritten", "random"]
    round: int = Field(0, ge=0, le=1_000_000)


class PairIn(Strict):
    prompt: str = Text
    filtered: str = Text
    unfiltered: str = Text
    threshold: float = Field(gt=0, le=1)
