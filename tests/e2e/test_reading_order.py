"""What a reader sees is what the classifier reads: Chromium draws text with letters
stored swapped inside a right-to-left override as it draws the plain text, and
`reading_order` gives back the plain text (models/normalize.py); characters Chromium does
not draw, the classifier does not read."""

from __future__ import annotations

import html
import io
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from highstakes.data.records import Snippet
from highstakes.models.classifier import Classifier
from highstakes.models.normalize import reading_order
from tests.conftest import load_benchmark

PLAIN = "He fell and shattered his wrist; blood ran down the steps."


def drawn(page: Any, text: str) -> np.ndarray:
    """`text` in a paragraph of a plain left-to-right page, as grey levels."""
    page.set_content(
        f'<p id="t" style="font: 20px sans-serif; margin: 10px">{html.escape(text)}</p>'
    )
    shot = page.locator("#t").screenshot()
    return np.asarray(Image.open(io.BytesIO(shot)).convert("L"), dtype=np.int16)


def unlike(a: np.ndarray, b: np.ndarray) -> int:
    """The largest grey-level difference between two drawings of one size, each pixel
    matched within one pixel sideways: a browser places the runs an override makes on
    their own, so the same glyphs can land a fraction of a pixel apart."""
    assert a.shape == b.shape
    shifted = [abs(np.roll(a, dx, axis=1) - b) for dx in (-1, 0, 1)]
    return int(np.minimum.reduce(shifted).max())


def test_an_override_swap_is_drawn_as_the_plain_text_and_read_as_it(browser: Any) -> None:
    transfer = load_benchmark("attack_transfer")
    page = browser.new_page(viewport={"width": 900, "height": 120})
    plain = drawn(page, PLAIN)
    for word in ("shattered", "wrist", "blood"):
        for variant, _ in transfer.reorder_variants(word)[:3]:
            text = PLAIN.replace(word, variant, 1)
            assert text != PLAIN and reading_order(text) == PLAIN
            assert unlike(drawn(page, text), plain) < 128, ascii(variant)
    # two swaps with only a space between them: each in its own isolate, or a browser lays
    # the two overrides out as one
    ends = next(v for v, _ in transfer.reorder_variants("his", 3) if v.endswith(transfer.PDI))
    starts = next(v for v, _ in transfer.reorder_variants("wrist") if v.startswith(transfer.LRI))
    text = PLAIN.replace("his wrist", f"{ends} {starts}")
    assert reading_order(text) == PLAIN
    assert unlike(drawn(page, text), plain) < 128
    bare = text.replace(transfer.LRI, "").replace(transfer.PDI, "")
    assert reading_order(bare) != PLAIN and unlike(drawn(page, bare), plain) > 200
    # the check can fail: the same swaps without the override are drawn differently
    for word, swapped in (("wrist", "wirst"), ("blood", "bolod"), ("shattered", "shatetred")):
        assert unlike(drawn(page, PLAIN.replace(word, swapped)), plain) > 200
    page.close()


# Boucher et al. (2021) hide edits in characters a page does not draw: zero-width spaces,
# joiners and marks, invisible operators, soft hyphens, tag letters, variation selectors
INVISIBLE = "\u200b\u200c\u200d\u2060\u2062\u00ad\u034f\ufe0f\u180e\ufeff\U000e0041\u200e"


def test_characters_not_drawn_are_not_read(browser: Any, tiny_model_dir: Path) -> None:
    clf = Classifier.from_pretrained(tiny_model_dir)
    page = browser.new_page(viewport={"width": 900, "height": 120})
    plain = drawn(page, PLAIN)
    (read,) = clf.encode([Snippet("A ladder slipped.", PLAIN)], padding=False)["input_ids"]
    for c in INVISIBLE:
        text = PLAIN.replace("wrist", f"wr{c}ist").replace("blood", f"bl{c}ood")
        assert unlike(drawn(page, text), plain) == 0, ascii(c)
        ids = clf.encode([Snippet("A ladder slipped.", text)], padding=False)["input_ids"]
        assert ids[0] == read, ascii(c)
    # Boucher's deletions, a letter then a backspace or delete, are drawn, not erased: on
    # the studio's page the extra letter stays in sight
    for c in "\b\x7f":
        assert unlike(drawn(page, PLAIN.replace("wrist", f"wrx{c}ist")), plain) > 200
    page.close()
