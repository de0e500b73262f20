"""The light scorer (ONNX Runtime + tokenizers) against the torch classifier: the same
tokens, the same decisions, no stale export, no torch import."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from transformers import AutoTokenizer, BertForSequenceClassification

from highstakes.data.demo import load_demo
from highstakes.data.records import Example, Snippet
from highstakes.models import light
from highstakes.models.classifier import Classifier
from highstakes.models.embedded import minilm_folder
from tests.conftest import tiny_bert_config

pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")

MAX_LENGTH = 64  # most demo test pairs (median 74 tokens) are truncated; completions fit


def demo_test_snippets() -> list[Snippet]:
    return [e.snippet for e in load_demo() if e.split == "test"]


def long_snippets() -> list[Snippet]:
    """Prompts far over MAX_LENGTH, odd spacing, accents and unknown characters."""
    words = "The old bridge creaked as Ana crossed it, café lights dimming behind her."
    return [
        Snippet(" ".join([words] * n) + "  \t\n", f"She slipped ({n}) — and 💥 hit her head.")
        for n in range(1, 12)
    ]


def disguised_snippets() -> list[Snippet]:
    """Look-alike letters (Cyrillic o, full-width T, mathematical bold b), which both
    scorers must fold into the plain letters, and letters stored swapped inside a
    right-to-left override, which both must read in the order shown (models/normalize.py)."""
    return [
        Snippet("The ladder wobbled.", "He fell and broke his wrist.".replace("o", "\u043e")),
        Snippet("\uff34he dog lunged.", "Its teeth tore into her arm; \U0001d41blood ran."),
        Snippet("The ice cracked.", "She went through and b\u202eor\u202cke her leg."),
    ]


def save_tiny(folder: Path, seed: int, threshold: float = 0.5) -> Classifier:
    """A tiny classifier saved like a trained one (highstakes.json, safetensors).  Its
    weights are drawn wider than BERT's default (0.3, not 0.02) so that its scores spread
    over a few log-odds, as a trained model's do; at 0.02 they all lie within 1e-3."""
    torch.manual_seed(seed)
    tokenizer = AutoTokenizer.from_pretrained(minilm_folder())
    config = tiny_bert_config(tokenizer.vocab_size)
    config.initializer_range = 0.3
    model = BertForSequenceClassification(config)
    Classifier(model, tokenizer, threshold, max_length=MAX_LENGTH).save(folder)
    return Classifier.from_pretrained(folder)


def set_threshold(folder: Path, threshold: float) -> None:
    meta = json.loads((folder / "highstakes.json").read_text())
    (folder / "highstakes.json").write_text(json.dumps({**meta, "threshold": threshold}))


def pairs_of(snippets: list[Snippet]) -> list[tuple[str, str]]:
    return [(s.prompt, s.completion) for s in snippets]


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> tuple[Classifier, Path, Path]:
    """(torch classifier, its folder, its export), the threshold at the median test score
    so that many scores lie near it."""
    folder = tmp_path_factory.mktemp("light")
    clf = save_tiny(folder, seed=0)
    clf.threshold = float(np.median(clf.score(demo_test_snippets())))
    set_threshold(folder, clf.threshold)
    key = light.model_key(folder)
    assert key is not None
    path = light.export(clf, folder, key)
    assert path is not None and path.parent == folder
    return clf, folder, path


def test_pairs_are_encoded_as_transformers_encodes_them(
    exported: tuple[Classifier, Path, Path],
) -> None:
    clf, folder, path = exported
    scorer = light.LightScorer.for_folder(folder, path)
    snippets = demo_test_snippets() + long_snippets() + disguised_snippets()
    expected = clf.encode(snippets, padding=False)
    assert max(len(ids) for ids in expected["input_ids"]) == MAX_LENGTH  # truncation ran
    for start in range(0, len(snippets), 32):
        arrays = scorer.encode(pairs_of(snippets[start : start + 32]))
        for row in range(arrays["input_ids"].shape[0]):
            i = start + row
            n = len(expected["input_ids"][i])
            for name in ("input_ids", "token_type_ids", "attention_mask"):
                assert arrays[name][row, :n].tolist() == list(expected[name][i]), (name, i)
            assert not arrays["attention_mask"][row, n:].any()  # padding is masked


def test_a_completion_too_long_to_fit_fails_as_in_transformers(
    exported: tuple[Classifier, Path, Path],
) -> None:
    clf, folder, path = exported
    pair = ("A.", "word " * 100)
    with pytest.raises(Exception, match="Truncation error") as torch_error:
        clf.encode([Snippet(*pair)], padding=False)
    with pytest.raises(Exception, match="Truncation error") as light_error:
        light.LightScorer.for_folder(folder, path).score([pair])
    assert str(light_error.value) == str(torch_error.value)


def test_decisions_equal_torch_on_the_demo_test_split(
    exported: tuple[Classifier, Path, Path],
) -> None:
    clf, folder, path = exported
    snippets = demo_test_snippets() + long_snippets()
    exact = clf.score(snippets)
    scorer = light.LightScorer.for_folder(folder, path)
    raw, decided = [], []
    for start in range(0, len(snippets), 32):  # the command's largest light batch
        pairs = pairs_of(snippets[start : start + 32])
        raw.append(scorer.score(pairs))
        result = light.light_scores(folder, pairs)
        assert result is not None
        decided.append(result[0])
    error = np.abs(light.log_odds(np.concatenate(raw)) - light.log_odds(exact))
    assert error.max() < light.EXPORT_TOLERANCE  # the margin is 10x the largest error
    assert np.array_equal(np.concatenate(decided) >= clf.threshold, exact >= clf.threshold)
    assert (exact >= clf.threshold).sum() not in (0, len(snippets))  # both sides present


def test_a_score_near_the_threshold_is_rescored_by_torch(
    exported: tuple[Classifier, Path, Path], tmp_path: Path
) -> None:
    clf, folder, _ = exported
    snippets = demo_test_snippets()[:8]
    exact = clf.score(snippets)
    # torch's fp32 bits depend on the batch a snippet is padded in (on some CPUs by ~1e-7),
    # and the rescoring scores the near snippets by themselves: put snippet 3 exactly on
    # the threshold as torch scores it there
    exact[3] = clf.score([snippets[3]])[0]
    set_threshold(folder, float(exact[3]))  # snippet 3 lies on the threshold
    try:
        result = light.light_scores(folder, pairs_of(snippets))
        assert result is not None
        scores, threshold = result
        assert threshold == float(exact[3])  # read from highstakes.json, not the export
        assert scores[3] == clf.score([snippets[3]])[0]  # torch's score, bit for bit
        assert np.array_equal(scores >= threshold, exact >= threshold)
    finally:
        set_threshold(folder, clf.threshold)


@pytest.mark.slow  # two exports, ~5 s each
def test_retrained_weights_never_reuse_an_old_export(tmp_path: Path) -> None:
    first = save_tiny(tmp_path, seed=0)
    key = light.model_key(tmp_path)
    assert key is not None
    old = light.export(first, tmp_path, key)
    assert old is not None
    set_threshold(tmp_path, 0.4)  # recalibrating keeps the export
    assert light.model_key(tmp_path) == key

    second = save_tiny(tmp_path, seed=1)  # retrained into the same folder
    new_key = light.model_key(tmp_path)
    assert new_key is not None and new_key != key
    assert light.find_export(tmp_path, new_key) is None
    new = light.export(second, tmp_path, new_key)
    assert new is not None and new != old
    assert not old.exists()  # the stale export is removed
    pair = ("Tom went out. It was cold. He slipped.", "He broke his leg.")
    scores, _ = light.light_scores(tmp_path, [pair]) or (None, None)
    assert scores is not None
    assert scores[0] == pytest.approx(second.score([Snippet(*pair)])[0], abs=1e-5)


@pytest.mark.slow  # an export
def test_a_read_only_model_folder_exports_to_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "model"
    clf = save_tiny(folder, seed=2)
    monkeypatch.setenv("HIGHSTAKES_CACHE", str(tmp_path / "cache"))
    write = light._write_atomically

    def read_only_folder(program: object, target: Path) -> Path:
        if target.parent == folder:  # chmod cannot stop root, who runs some test machines
            raise PermissionError(13, "Read-only file system", str(target))
        return write(program, target)

    monkeypatch.setattr(light, "_write_atomically", read_only_folder)
    key = light.model_key(folder)
    assert key is not None
    path = light.export(clf, folder, key)
    assert path == tmp_path / "cache" / "light" / f"{key}.onnx"
    assert light.find_export(folder, key) == path
    assert not list(folder.glob("*.onnx")) and not list(path.parent.glob("*.tmp"))


def test_only_saved_highstakes_classifiers_take_the_light_path(
    tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch, exported: tuple[Classifier, Path, Path]
) -> None:
    assert light.model_key(tiny_model_dir) is None  # no highstakes.json: head may be fresh
    assert light.light_scores(tiny_model_dir, [("A.", "B.")]) is None
    monkeypatch.setattr(light, "light_available", lambda: False)  # no onnxruntime here
    assert light.light_scores(exported[1], [("A.", "B.")]) is None


def test_the_light_command_imports_neither_torch_nor_transformers(
    exported: tuple[Classifier, Path, Path], examples: list[Example]
) -> None:
    clf, folder, _ = exported
    scores = clf.score([e.snippet for e in examples])
    far = int(np.argmax(np.abs(light.log_odds(scores) - light.log_odds(clf.threshold))))
    snippet = examples[far].snippet  # far from the threshold: no torch rescoring
    code = (
        "import sys\n"
        "from highstakes.cli.main import app\n"
        "app(sys.argv[1:], standalone_mode=False)\n"
        "print('torch' in sys.modules, 'transformers' in sys.modules)\n"
    )
    args = ["score", "--model", str(folder), "--prompt", snippet.prompt]
    done = subprocess.run(
        [sys.executable, "-c", code, *args, "--completion", snippet.completion],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    score_line, imports_line = done.stdout.strip().splitlines()
    assert float(score_line.split()[0]) == pytest.approx(scores[far], abs=1e-5)
    assert imports_line == "False False"
