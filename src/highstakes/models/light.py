"""A light scorer for a few snippets: ONNX Runtime and `tokenizers`, no torch or transformers.

Importing torch and transformers and loading the model is most of `highstakes score`'s wall
time for one snippet (4.9 s on two quiet CPU cores); this path needs neither
(benchmarks/score_load.py: 1.5 s p50 against torch's 12.1 s, both cores shared with other
work).  The saved classifier is exported to ONNX (fp32) once, on its first light use
(`export`: 8-17 s on two cores), and the export is cached.  `Classifier.save` does not
export: that would add this to every best-so-far model the trainer saves and to the demo,
for a file that only `score` reads.  The export lies

- in the model folder as `light-<key>.onnx`, written to a temporary file and renamed, so a
  reader never sees half a file; where the folder is read-only, in
  `$HIGHSTAKES_CACHE/light/<key>.onnx` (default `~/.cache/highstakes`);
- `<key>` is a SHA-256 of the weights, the config and the tokenizer files (`model_key`), so
  a model retrained into the same folder never reuses an old export.  The threshold and
  `max_length` are not in the export: they are read from `highstakes.json` at every load,
  so they cannot be stale either, and recalibrating does not cost a new export.

The export carries the exact `tokenizers` tokenizer that transformers uses for the model
(in the ONNX metadata), and pairs are encoded as `Classifier.encode` does: (prompt,
completion), truncating only the prompt at the saved `max_length`.

Exact decisions: ONNX Runtime's fp32 scores differ from torch's by float rounding (at most
2.2e-5 in log-odds, measured on the demo's test split; see `LIGHT_MARGIN`).  A snippet whose
light score lies within `LIGHT_MARGIN` of the threshold in log-odds is rescored by the
torch classifier (`light_scores`), so every flag is the one torch fp32 gives.  (Torch's own
fp32 score moves in its last bits with the batch a snippet is padded in, by about 1e-7 on
an AMD EPYC; the rescoring batches only the near snippets, so a score within that of the
threshold is decided as torch scores it in that batch.)
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import logging
import os
import tempfile
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from highstakes.models.normalize import harden, reading_order
from highstakes.models.saved import META_FILE, POSITIVE_INDEX, cache_root, log_odds

if TYPE_CHECKING:
    from highstakes.models.classifier import Classifier

log = logging.getLogger(__name__)

WEIGHTS_FILE = "model.safetensors"
# Everything the export depends on; a change to any of them is a new key.
KEYED_FILES = (
    WEIGHTS_FILE,
    "config.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
)
EXPORT_FORMAT = "highstakes-light-1"  # bump when `export` changes what it writes
TOKENIZER_PROP = "highstakes.tokenizer"
TRUNCATION_SIDE_PROP = "highstakes.truncation_side"

# Log-odds distance from the threshold within which a light score is not trusted and the
# snippet is rescored by torch.  ONNX Runtime (fp32, full graph optimization, batches of
# 32) against torch fp32 (`Classifier.score`) with the demo's trained MiniLM
# (runs/demo/round-0/model) on the 881 test-split snippets plus 40 long prompts truncated
# at max_length: largest difference 2.2e-5 log-odds, 99th percentile 1.4e-5 (the check on
# a tiny model is in tests/models/test_light.py).  1e-3 is 45x the largest and still
# rescores almost nothing: a score must lie within 0.1% (in odds) of the threshold; one
# of those 921 snippets did (8.4e-4 from it).
LIGHT_MARGIN = 1e-3
# Largest light-vs-torch difference (log-odds) accepted when an export is checked.
EXPORT_TOLERANCE = LIGHT_MARGIN / 10
PROBES = (  # snippets an export is checked on: short, padded beside longer, truncated
    ("A.", "B."),
    ("Tom went out. The wind was cold. He climbed the ladder.", "He fell and broke his arm."),
    ("One two three. " * 60, "A completion long enough to be longer than the others are."),
)


def light_available() -> bool:
    """Whether ONNX Runtime and `tokenizers` can be imported here."""
    return all(importlib.util.find_spec(m) is not None for m in ("onnxruntime", "tokenizers"))


def model_key(folder: str | Path) -> str | None:
    """SHA-256 over the files the export depends on; None unless `folder` is a saved
    highstakes classifier (its `highstakes.json` and safetensors weights)."""
    folder = Path(folder)
    if not (folder / META_FILE).is_file() or not (folder / WEIGHTS_FILE).is_file():
        return None
    key = hashlib.sha256(EXPORT_FORMAT.encode())
    for name in KEYED_FILES:
        path = folder / name
        key.update(f"\0{name}\0".encode())
        if path.is_file():
            with path.open("rb") as f:  # ~0.1 s for MiniLM's 91 MB of weights
                key.update(hashlib.file_digest(f, "sha256").digest())
    return key.hexdigest()


def export_locations(folder: Path, key: str) -> list[Path]:
    """Where an export for `key` may lie: the model folder first, then the cache."""
    return [folder / f"light-{key}.onnx", cache_root() / "light" / f"{key}.onnx"]


def find_export(folder: Path, key: str) -> Path | None:
    return next((p for p in export_locations(folder, key) if p.is_file()), None)


class LightScorer:
    """A few snippets at a time through an exported ONNX file, on the CPU, in fp32."""

    def __init__(self, path: str | Path, threshold: float = 0.5, max_length: int = 256) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3  # errors only: no notes about unused initializers
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        props = self.session.get_modelmeta().custom_metadata_map
        self.tokenizer = Tokenizer.from_str(props[TOKENIZER_PROP])
        harden(self.tokenizer)  # as `Classifier` does; exports made before it lack the step
        self.tokenizer.no_padding()
        if max_length:  # as Classifier.encode: truncation="only_first" at max_length
            self.tokenizer.enable_truncation(
                max_length,
                strategy="only_first",
                direction=props.get(TRUNCATION_SIDE_PROP, "right"),
            )
        else:
            self.tokenizer.no_truncation()
        self.input_names = [i.name for i in self.session.get_inputs()]
        self.threshold = float(threshold)
        self.max_length = max_length

    @classmethod
    def for_folder(cls, folder: str | Path, path: str | Path) -> LightScorer:
        """Open the export at `path` with the threshold and max_length saved in `folder`
        (read now: they are not part of the export)."""
        meta = json.loads((Path(folder) / META_FILE).read_text())
        return cls(path, float(meta.get("threshold", 0.5)), int(meta.get("max_length", 256)))

    def encode(self, pairs: Sequence[tuple[str, str]]) -> dict[str, np.ndarray]:
        """(B, T) int64 arrays, right-padded with 0 under a 0 attention mask."""
        encodings = self.tokenizer.encode_batch(
            [(reading_order(prompt), reading_order(completion)) for prompt, completion in pairs]
        )
        width = max(len(e.ids) for e in encodings)
        arrays = {n: np.zeros((len(encodings), width), np.int64) for n in self.input_names}
        for row, e in enumerate(encodings):
            values = {
                "input_ids": e.ids,
                "attention_mask": e.attention_mask,
                "token_type_ids": e.type_ids,
            }
            for name in self.input_names:
                arrays[name][row, : len(e.ids)] = values[name]
        return arrays

    def score(self, pairs: Sequence[tuple[str, str]]) -> np.ndarray:
        """Probability of the positive class for each (prompt, completion), in order."""
        if not pairs:
            return np.zeros(0, dtype=np.float64)
        logits = self.session.run(None, self.encode(pairs))[0]  # (B, n_labels) float32
        logits = logits.astype(np.float64)
        logits -= logits.max(axis=1, keepdims=True)
        probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
        return np.asarray(probs[:, POSITIVE_INDEX])

    def undecided(self, scores: np.ndarray) -> np.ndarray:
        """True where a light score is too near the threshold to decide the flag."""
        return np.asarray(np.abs(log_odds(scores) - log_odds(self.threshold)) < LIGHT_MARGIN)


def light_scores(
    folder: str | Path,
    pairs: Sequence[tuple[str, str]],
    on_export: Callable[[], None] | None = None,
) -> tuple[np.ndarray, float] | None:
    """Scores and threshold for a few (prompt, completion) pairs, with torch fp32's
    decisions; None where there is no light path (ONNX Runtime missing, or `folder` is not
    a saved highstakes classifier) and the caller should load the Classifier.

    Without an export this loads the torch classifier, exports (calling `on_export` first:
    it takes a while) and checks the export; a model that cannot be exported is scored by
    torch here.  Snippets within `LIGHT_MARGIN` of the threshold are rescored by torch."""
    folder = Path(folder)
    key = model_key(folder) if light_available() else None
    if key is None:
        return None
    clf: Classifier | None = None
    path = find_export(folder, key)
    if path is None:
        from highstakes.models.classifier import Classifier

        if on_export:
            on_export()
        clf = Classifier.from_pretrained(folder)
        path = export(clf, folder, key)
        if path is None:
            return _torch_scores(clf, pairs), clf.threshold
    try:
        scorer = LightScorer.for_folder(folder, path)
    except Exception as e:  # an export ONNX Runtime cannot open (written by a newer one?)
        log.warning("cannot open %s (%s); scoring with torch", path, e)
        return None
    scores = scorer.score(pairs)
    near = np.flatnonzero(scorer.undecided(scores))
    if near.size:
        from highstakes.models.classifier import Classifier

        log.info("%d snippet(s) near the threshold: rescoring with torch", near.size)
        clf = clf or Classifier.from_pretrained(folder)
        scores[near] = _torch_scores(clf, [pairs[int(i)] for i in near])
    return scores, scorer.threshold


def _torch_scores(clf: Classifier, pairs: Sequence[tuple[str, str]]) -> np.ndarray:
    from highstakes.data.records import Snippet

    return clf.score([Snippet(p, c) for p, c in pairs])


# ---- export (needs torch, onnx and onnxscript) ----------------------------------------------
def export(clf: Classifier, folder: Path, key: str) -> Path | None:
    """Export `clf` (loaded from `folder`, whose files hash to `key`) to ONNX, write it where
    `export_locations` says (the first writable place), and check it against torch on
    `PROBES`.  None, with a warning, where the model cannot be exported or the check fails:
    the torch classifier still works."""
    try:
        program = _onnx_program(clf)
    except Exception as e:  # an architecture the exporter does not handle
        log.warning("no light scorer for %s (%s); scoring with torch", folder, e)
        return None
    path = None
    for target in export_locations(folder, key):
        try:
            path = _write_atomically(program, target)
            break
        except OSError as e:  # a read-only model folder (or a full disk): try the cache
            log.info("cannot write %s (%s)", target, e)
        except Exception as e:  # e.g. a model over ONNX's 2 GB limit for one file
            log.warning("could not save a light scorer to %s (%s)", target, e)
    if path is None:
        log.warning("no light scorer saved for %s; scoring with torch", folder)
        return None
    try:
        torch_scores = _torch_scores(clf, PROBES)
        light = LightScorer(path, clf.threshold, clf.max_length).score(PROBES)
        error = float(np.max(np.abs(log_odds(light) - log_odds(torch_scores))))
    except Exception as e:  # e.g. a max_length too short for the probes
        error, reason = float("inf"), str(e)
    else:
        reason = f"it differs from torch by {error:.2g} log-odds"
    if error > EXPORT_TOLERANCE:
        log.warning("light scorer of %s not used: %s", folder, reason)
        path.unlink(missing_ok=True)
        return None
    if path.parent == folder:  # exports of earlier weights in this folder are stale
        for old in folder.glob("light-*.onnx"):
            if old != path:
                old.unlink(missing_ok=True)
    return path


def _onnx_program(clf: Classifier) -> Any:
    """The classifier as an ONNX program with dynamic batch and length, returning (B,
    n_labels) logits; its tokenizer is in the metadata."""
    import torch

    from highstakes.data.records import Snippet

    example = clf.encode([Snippet("A prompt.", "A completion."), Snippet("Two words.", "Three.")])
    names = [n for n in ("input_ids", "attention_mask", "token_type_ids") if n in example]
    dims = {0: torch.export.Dim("batch"), 1: torch.export.Dim("length")}
    with _quiet_exporter():
        program = torch.onnx.export(
            clf.model.float().eval(),
            (),
            kwargs={n: example[n].to(clf.device) for n in names},
            input_names=names,
            output_names=["logits"],
            dynamic_shapes={n: dims for n in names},
            dynamo=True,
            optimize=True,
            verbose=False,
        )
    if program is None:  # only without a file to write to, which we never pass
        raise RuntimeError("torch.onnx.export returned no program")
    program.model.metadata_props[TOKENIZER_PROP] = clf.tokenizer.backend_tokenizer.to_str()
    program.model.metadata_props[TRUNCATION_SIDE_PROP] = str(clf.tokenizer.truncation_side)
    return program


@contextlib.contextmanager
def _quiet_exporter() -> Iterator[None]:
    """The exporter's notes for its developers (torchvision missing, axis names) hidden."""
    logger = logging.getLogger("torch.onnx")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)


def _write_atomically(program: Any, target: Path) -> Path:
    """Save as one file (weights inside) to a temporary name beside `target`, then rename."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    try:
        program.save(tmp, external_data=False)
        os.chmod(tmp, 0o644)  # mkstemp makes it private; the model folder's files are not
        os.replace(tmp, target)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return target
