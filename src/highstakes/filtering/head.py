"""A classifier head on the generator's own hidden states (a linear probe).

Instead of running a second model over each finished completion, the head reads the
states the generator computes anyway: for each of a few blocks, the mean and the elementwise
maximum, over the completion tokens so far, of the residual stream after that block
(`filtering.features`).  A standardized logistic regression with balanced class weights
turns those into P(injurious).  Because a running mean and a running maximum can be
updated one token at a time, the same head scores every prefix while the sample is
generated (`filtering.streaming`) and stops a sample as soon as it crosses the
threshold; linear probes on a generator's activations are the cheap monitors of Alain &
Bengio (2016), "Understanding intermediate layers using linear classifier probes".

The streaming rule rejects a sample when ANY prefix of at least `min_tokens` tokens (or
the whole completion, when shorter) scores at or above the threshold.  So the threshold
is chosen on validation from each snippet's maximum over those prefixes, the same way
the classifier's is (`threshold_for_recall`), and recall and false-positive rates are
reported under that rule.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from highstakes.data.records import Example
from highstakes.evaluation.metrics import auroc, held_out_metrics, threshold_for_recall
from highstakes.filtering.features import (
    POOLINGS,
    FeatureExtractor,
    ProgressFn,
    pooled_final,
    pooled_prefixes,
)
from highstakes.training.trainer import labeled

log = logging.getLogger(__name__)

HEAD_FILE = "head.json"
WEIGHTS_FILE = "head.npz"
FORMAT = "highstakes-head/2"
OLD_FORMATS = ("highstakes-head/1",)  # one `layer`, mean pooling


@dataclass
class HeadConfig:
    """How to train a head; also the loop's [head] section."""

    enabled: bool = False  # the loop trains and evaluates a head each round (not the demo's)
    model: str = "embedded-smollm2"  # the generator whose states are read: name or folder
    # blocks whose outputs are read (1-based), and how each is pooled over the completion
    # so far.  Chosen on validation AUROC under the streaming rule: block 18 alone was the
    # best single block of 6, 12, 18 and 24 (0.92, with 951 training snippets); with all
    # of them, 12+18+24 with mean and max gave 0.961 against 0.940 for block 18's mean
    # (benchmarks/results/head-layers*.json, head-variants.json; docs/head.md)
    layers: list[int] = field(default_factory=lambda: [12, 18, 24])
    pooling: str = "mean+max"
    # training snippets used (0: all).  Features of all 3,300 demo train and valid snippets
    # take 3-8 minutes on two CPU cores shared with other jobs (one torch thread: 7 a
    # second, docs/head.md), once: they are cached.  All 2,935 labeled training snippets
    # gave validation AUROC 0.940 under the streaming rule, 1,426 of them 0.931
    max_train: int = 0
    # prefixes shorter than this are not scored while streaming: a mean over one or two
    # tokens is noise, and the max over prefixes would turn that noise into false alarms
    min_tokens: int = 4
    # inverse L2 strength of the standardized logistic regression (3,456 features with the
    # defaults): the best of 0.0003-0.01 on validation (benchmarks/results/head-variants.json)
    c: float = 0.001
    # negatives' prefixes are negatives too (a harmless sentence has no injurious start);
    # training on them keeps early prefixes of harmless samples under the threshold
    negative_prefixes: bool = True
    # the threshold: as [train] target_recall / recall_confidence (None: [train]'s)
    target_recall: float | None = None
    recall_confidence: float | None = None
    batch_size: int = 16  # snippets per feature-extraction forward

    def check(self) -> None:
        if not isinstance(self.enabled, bool):
            raise ValueError(f"enabled must be true or false, got {self.enabled!r}")
        if (
            not isinstance(self.layers, list | tuple)
            or not self.layers
            or not all(isinstance(x, int) and not isinstance(x, bool) for x in self.layers)
        ):
            raise ValueError(
                f"layers must be a non-empty list of block numbers, got {self.layers!r}"
            )
        if min(self.layers) < 1 or len(set(self.layers)) != len(self.layers):
            raise ValueError(f"layers must be distinct and at least 1, got {list(self.layers)}")
        if self.pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {', '.join(POOLINGS)}, got {self.pooling!r}")
        if self.max_train < 0 or self.min_tokens < 1 or self.batch_size < 1:
            raise ValueError("max_train must be >= 0, min_tokens and batch_size >= 1")
        if not self.c > 0:
            raise ValueError(f"c must be positive, got {self.c}")
        if self.target_recall is not None and not 0 < self.target_recall <= 1:
            raise ValueError(f"target_recall must be in (0, 1], got {self.target_recall}")


class HeadError(ValueError):
    """A folder that is not a head, or a head for another generator."""


class ProbeHead:
    """Standardize, then logistic regression; folded into one linear map for scoring.

    Learned: `weight_` (F,), `bias_`, `threshold_`.  `score_features` scores pooled
    features; `stream_scores` applies the streaming rule to per-token states (for each
    snippet, one (n tokens, D) array per layer in `layers`).
    """

    def __init__(
        self,
        lm_name: str,
        layers: Sequence[int],
        pooling: str = "mean+max",
        min_tokens: int = 4,
        c: float = 0.001,
        seed: int = 0,
    ) -> None:
        self.lm_name = lm_name
        self.layers = [int(x) for x in layers]
        self.pooling = pooling
        self.min_tokens = min_tokens
        self.c = c
        self.seed = seed
        self.threshold_ = 0.5
        self.metadata_: dict[str, Any] = {}

    def fit(self, features: np.ndarray, labels: np.ndarray) -> ProbeHead:
        from sklearn.linear_model import LogisticRegression

        features = np.asarray(features, dtype=np.float64)
        labels = np.asarray(labels).astype(int)
        if features.ndim != 2 or len(features) != len(labels):
            raise ValueError("features must be (n, D) with one label per row")
        if set(np.unique(labels)) != {0, 1}:
            raise ValueError("the head needs both injurious and harmless training examples")
        mean = features.mean(axis=0)
        scale = features.std(axis=0) + 1e-6
        model = LogisticRegression(
            C=self.c, class_weight="balanced", max_iter=2000, random_state=self.seed
        )
        model.fit((features - mean) / scale, labels)
        # w . (x - m) / s + b  ==  (w / s) . x + (b - w . m / s)
        self.weight_ = (model.coef_[0] / scale).astype(np.float64)
        self.bias_ = float(model.intercept_[0] - np.dot(model.coef_[0], mean / scale))
        return self

    @property
    def n_features(self) -> int:
        return int(self.weight_.shape[0])

    def features_for(self, hidden_size: int) -> int:
        """How many features this head reads from an LM with `hidden_size`-wide states."""
        return hidden_size * len(self.layers) * (2 if self.pooling == "mean+max" else 1)

    def score_features(self, features: np.ndarray) -> np.ndarray:
        """P(injurious) of pooled features, (n, F) -> (n,)."""
        logits = np.asarray(features, dtype=np.float64) @ self.weight_ + self.bias_
        return 1.0 / (1.0 + np.exp(-np.clip(logits, -60, 60)))

    def stream_scores(self, states: Sequence[Sequence[np.ndarray]]) -> np.ndarray:
        """Each completion's score under the streaming rule: the max over its prefixes of
        at least `min_tokens` tokens (the whole completion when it is shorter)."""
        out = np.zeros(len(states))
        for i, s in enumerate(states):
            scores = self.score_features(pooled_prefixes(s, self.pooling))
            out[i] = scores[min(self.min_tokens, len(scores)) - 1 :].max()
        return out

    def final_scores(self, states: Sequence[Sequence[np.ndarray]]) -> np.ndarray:
        return self.score_features(pooled_final(states, self.pooling))

    # ---- save and load ---------------------------------------------------------------
    def save(self, folder: str | Path) -> Path:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        np.savez(folder / WEIGHTS_FILE, weight=self.weight_, bias=np.array([self.bias_]))
        meta = {
            "format": FORMAT,
            "lm": self.lm_name,
            "layers": self.layers,
            "pooling": self.pooling,
            "min_tokens": self.min_tokens,
            "c": self.c,
            "seed": self.seed,
            "threshold": self.threshold_,
            "n_features": self.n_features,
            **self.metadata_,
        }
        (folder / HEAD_FILE).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
        return folder

    @classmethod
    def load(cls, folder: str | Path, lm_name: str | None = None) -> ProbeHead:
        """Load a saved head; with `lm_name`, refuse a head trained on another LM."""
        folder = Path(folder)
        meta_path = folder / HEAD_FILE
        if not meta_path.is_file() or not (folder / WEIGHTS_FILE).is_file():
            raise HeadError(
                f"{folder} is not a head folder (no {HEAD_FILE} and {WEIGHTS_FILE}); train one "
                "with `highstakes head train --out FOLDER`"
            )
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        if meta.get("format") in OLD_FORMATS:
            meta = {**meta, "layers": [meta.pop("layer")], "pooling": "mean"}
        elif meta.get("format") != FORMAT:
            raise HeadError(f"{meta_path}: unknown head format {meta.get('format')!r}")
        if lm_name is not None and not same_lm(meta["lm"], lm_name):
            raise HeadError(
                f"the head in {folder} reads the states of {meta['lm']!r}, not {lm_name!r}; "
                f"generate with --generator {meta['lm']} or train a head for {lm_name}"
            )
        head = cls(
            meta["lm"], meta["layers"], meta["pooling"], int(meta["min_tokens"]), float(meta["c"])
        )
        with np.load(folder / WEIGHTS_FILE) as weights:
            head.weight_ = weights["weight"].astype(np.float64)
            head.bias_ = float(weights["bias"][0])
        head.threshold_ = float(meta["threshold"])
        known = {"format", "lm", "layers", "pooling", "min_tokens", "c", "seed", "threshold",
                 "n_features"}  # fmt: skip
        head.metadata_ = {k: v for k, v in meta.items() if k not in known}
        return head


def same_lm(a: str, b: str) -> bool:
    """Two LM names mean the same model (folders compared by their resolved path)."""
    aliases = {"smollm2": "embedded-smollm2"}
    a, b = aliases.get(a, a), aliases.get(b, b)
    if a == b:
        return True
    pa, pb = Path(a), Path(b)
    return pa.exists() and pb.exists() and pa.resolve() == pb.resolve()


def training_rows(
    states: Sequence[Sequence[np.ndarray]],
    labels: np.ndarray,
    min_tokens: int,
    negative_prefixes: bool,
    pooling: str,
) -> tuple[np.ndarray, np.ndarray]:
    """Rows to fit on: each completion's features; with `negative_prefixes`, also the
    features of every scored prefix of each harmless completion (labeled harmless)."""
    rows, ys = [pooled_final(states, pooling)], [labels]
    if negative_prefixes:
        extra = [
            pooled_prefixes(s, pooling)[min_tokens - 1 : -1]
            for s, y in zip(states, labels, strict=True)
            if y == 0 and len(s[0]) > min_tokens
        ]
        if extra:
            stacked = np.concatenate(extra)
            rows.append(stacked)
            ys.append(np.zeros(len(stacked), dtype=np.int64))
    return np.concatenate(rows), np.concatenate(ys)


def subset(examples: Sequence[Example], n: int, seed: int) -> list[Example]:
    """`n` examples (0: all) in a fixed pseudo-random order, both classes in proportion."""
    if n <= 0 or n >= len(examples):
        return list(examples)
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(examples))
    return [examples[i] for i in sorted(order[:n])]


def train_head(
    extractor: FeatureExtractor,
    config: HeadConfig,
    train_examples: Sequence[Example],
    valid_examples: Sequence[Example],
    target_recall: float = 0.95,
    recall_confidence: float | None = None,
    seed: int = 0,
    progress: ProgressFn | None = None,
) -> tuple[ProbeHead, dict[str, Any]]:
    """Fit a head on (a subset of) the training examples and set its threshold on the
    validation examples under the streaming rule.  Returns the head and its validation
    figures."""
    config.check()
    target = config.target_recall or target_recall
    confidence = config.recall_confidence or recall_confidence
    train_kept, train_y = labeled(subset(train_examples, config.max_train, seed))
    valid_kept, valid_y = labeled(valid_examples)
    if not valid_y.any():
        raise ValueError("the validation examples hold no injurious snippet to set a threshold")
    snippets = [e.snippet for e in [*train_kept, *valid_kept]]
    states = extractor.snippet_states(snippets, config.layers, progress)
    train_states, valid_states = states[: len(train_kept)], states[len(train_kept) :]
    x, y = training_rows(
        train_states, train_y, config.min_tokens, config.negative_prefixes, config.pooling
    )
    head = ProbeHead(
        extractor.lm_name, config.layers, config.pooling, config.min_tokens, config.c, seed
    )
    head.fit(x, y)
    valid_scores = head.stream_scores(valid_states)
    head.threshold_ = threshold_for_recall(valid_y, valid_scores, target, confidence)
    valid = held_out_metrics(valid_y, valid_scores, head.threshold_, seed=seed)
    valid["auroc_final_mean"] = auroc(valid_y, head.final_scores(valid_states))
    head.metadata_ = {
        "config": asdict(config),
        "n_train": len(train_kept),
        "n_train_rows": len(x),
        "target_recall": target,
        "recall_confidence": confidence,
        "valid": valid,
    }
    return head, valid


def evaluate_head(
    head: ProbeHead, extractor: FeatureExtractor, examples: Sequence[Example], seed: int = 0
) -> dict[str, Any]:
    """Held-out figures at the head's threshold under the streaming rule (the figures
    `held_out_metrics` gives the classifier, so the two compare)."""
    kept, labels = labeled(examples)
    states = extractor.snippet_states([e.snippet for e in kept], head.layers)
    out = held_out_metrics(labels, head.stream_scores(states), head.threshold_, seed=seed)
    out["auroc_final_mean"] = auroc(labels, head.final_scores(states))
    return out
