"""Text the classifier reads the way a person sees it.

A snippet can be changed in ways no reader notices: "blood" with its o's written as the
Cyrillic letter drawn the same, or in full-width or mathematical bold letters.  The label
stays (the text on the screen is the same), but the tokenizer meets characters it never
saw in training, and a filter that scores them differently can be walked past with no
edit a reader can see.  `harden` puts two steps in front of a fast tokenizer's own
normalizer:

- NFKC, which folds full-width, mathematical and other compatibility forms into plain
  letters (Unicode Standard Annex #15);
- `CONFUSABLES`: letters of other scripts drawn like a Latin one (Cyrillic, Greek,
  Armenian, Cherokee, Coptic; Latin small capitals, alpha, script g and dotless i and j;
  the multiplication sign for an x), replaced by it: a part of the confusables data of
  Unicode Technical Standard #39, those that look the same, or the same but smaller, in
  common fonts.  The two NFKC would turn into other letters (the lunate sigmas, drawn
  like a c) are replaced before it.

On text without such characters both steps change nothing, so the scores of ordinary
text do not move.  Zero-width spaces and joiners and soft hyphens (category Cf) are
already dropped by BERT-style normalizers.

A normalizer cannot move characters, so one more step runs before tokenizing, in the
classifier and the light scorer: `reading_order` lays out text with directional overrides
in the order a reader sees it (python-bidi).  Only `tokenizers` and python-bidi are
needed, so the torch-free light scorer does all of this too.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

_GROUPS = (  # (Latin letters, the letters of other scripts drawn like them, in order)
    # Cyrillic small letters: а с ԁ е ё һ і ї ј ӏ о р ԛ ѕ ԝ х у
    (
        "acdeehiijlopqswxy",
        "\u0430\u0441\u0501\u0435\u0451\u04bb\u0456\u0457\u0458\u04cf\u043e\u0440"
        "\u051b\u0455\u051d\u0445\u0443",
    ),
    # Cyrillic capitals: А В С Е Ё Н І Ї Ј К М О Р Ԛ Ѕ Т Ԝ Х У
    (
        "ABCEEHIIJKMOPQSTWXY",
        "\u0410\u0412\u0421\u0415\u0401\u041d\u0406\u0407\u0408\u041a\u041c\u041e"
        "\u0420\u051a\u0405\u0422\u051c\u0425\u0423",
    ),
    # Greek small letters: α ι κ ν ο ρ υ χ
    ("aikvopux", "\u03b1\u03b9\u03ba\u03bd\u03bf\u03c1\u03c5\u03c7"),
    # Greek capitals: Α Β Ε Ζ Η Ι Κ Μ Ν Ο Ρ Τ Υ Χ
    (
        "ABEZHIKMNOPTYX",
        "\u0391\u0392\u0395\u0396\u0397\u0399\u039a\u039c\u039d\u039f\u03a1\u03a4\u03a5\u03a7",
    ),
    # Latin i and j without their dot: ı ȷ
    ("ij", "\u0131\u0237"),
    # Latin small capitals: ᴀ ʙ ᴄ ᴅ ᴇ ɢ ʜ ɪ ᴊ ᴋ ʟ ᴍ ɴ ᴏ ᴘ ʀ ꜱ ᴛ ᴜ ᴠ ᴡ ʏ ᴢ
    (
        "abcdeghijklmnoprstuvwyz",
        "\u1d00\u0299\u1d04\u1d05\u1d07\u0262\u029c\u026a\u1d0a\u1d0b\u029f\u1d0d"
        "\u0274\u1d0f\u1d18\u0280\ua731\u1d1b\u1d1c\u1d20\u1d21\u028f\u1d22",
    ),
    # Armenian letters: օ ս հ ո Օ
    ("ouhnO", "\u0585\u057d\u0570\u0578\u0555"),
    # Cherokee letters drawn like Latin capitals: Ꭺ Ᏼ Ꮯ Ꭼ Ꮋ Ꭻ Ꮶ Ꮇ Ꮲ Ꮪ Ꭲ Ꮩ Ꮃ Ꮓ Ꮐ
    (
        "ABCEHJKMPSTVWZG",
        "\u13aa\u13f4\u13df\u13ac\u13bb\u13ab\u13e6\u13b7\u13e2\u13da\u13a2\u13d9"
        "\u13b3\u13c3\u13c0",
    ),
    # and their small forms, which lower-casing would make of them: ꭺ ᏼ ꮯ ꭼ ꮋ ꭻ ꮶ ꮇ ꮲ ꮪ ꭲ ꮩ ꮃ ꮓ ꮐ
    (
        "ABCEHJKMPSTVWZG",
        "\uab7a\u13fc\uabaf\uab7c\uab8b\uab7b\uabb6\uab87\uabb2\uabaa\uab72\uaba9"
        "\uab83\uab93\uab90",
    ),
    # the rest of the letters TextAttack's homoglyph swap writes (after Boucher et al.,
    # 2021): Latin alpha and script g: ɑ ɡ; Cyrillic soft sign, ghe, izhitsa: Ь г ѵ Ѵ;
    # Greek lunate sigma and yot: ϲ Ϲ ϳ Ϳ; the multiplication sign: ×
    ("agbrvVcCjJx", "\u0251\u0261\u042c\u0433\u0475\u0474\u03f2\u03f9\u03f3\u037f\u00d7"),
    # Coptic letters drawn like Latin ones: ⲅ ⲟ Ⲟ ⲣ Ⲣ ⲥ Ⲥ ⲭ Ⲭ
    ("roOpPcCxX", "\u2c85\u2c9f\u2c9e\u2ca3\u2ca2\u2ca5\u2ca4\u2cad\u2cac"),
)
CONFUSABLES = {
    other: latin for latins, others in _GROUPS for latin, other in zip(latins, others, strict=True)
}
# a Cyrillic a, a full-width b, a small capital o and a lunate sigma: "aboc" once folded.
# The lunate sigma came with the table's third version (the small capital with the
# second), so a tokenizer saved with an earlier one is folded again (wrapped once more)
# on load.
_PROBE = "\u0430\uff42\u1d0f\u03f2"


def folds_look_alikes(backend: Any) -> bool:
    """Whether `backend` (a `tokenizers.Tokenizer`) reads `_PROBE` as plain letters."""
    return backend.normalizer is not None and (
        backend.normalizer.normalize_str(_PROBE).lower() == "aboc"
    )


def harden(backend: Any) -> bool:
    """Put NFKC and `CONFUSABLES` in front of `backend`'s normalizer (a
    `tokenizers.Tokenizer`, such as a transformers fast tokenizer's `backend_tokenizer`),
    unless it folds them already; whether it changed anything."""
    from tokenizers import normalizers

    if folds_look_alikes(backend):
        return False
    # one plain-string step per look-alike: faster here than one character-class regex
    # per Latin letter (an ad-hoc timing with the 118-letter table, 1,024 demo pairs: 166
    # ms against 234 ms); benchmarks/normalize_cost.py times the steps as they are
    # a look-alike that NFKC would turn into another letter (the lunate sigmas become
    # sigmas) is folded before it
    early = {o for o in CONFUSABLES if unicodedata.normalize("NFKC", o) != o}
    steps: list[Any] = [normalizers.Replace(o, CONFUSABLES[o]) for o in sorted(early)]
    steps.append(normalizers.NFKC())
    steps += [normalizers.Replace(o, x) for o, x in CONFUSABLES.items() if o not in early]
    if backend.normalizer is not None:
        steps.append(backend.normalizer)
    backend.normalizer = normalizers.Sequence(steps)
    return True


# Unicode's explicit directional formatting characters (UAX #9): embeddings, overrides,
# isolates and the characters that close them.  An override can show letters stored in one
# order in another: "w" RLO "ir" PDF "st" shows "wrist" while a tokenizer reads "wirst"
# (Boucher et al., 2021, call these reorderings).
BIDI_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069]")


def reading_order(text: str) -> str:
    """`text` in the order a reader sees it on a left-to-right page, without the
    directional formatting characters: the Unicode Bidirectional Algorithm (python-bidi)
    lays it out where there are any.  Text without them is returned as it is, so the
    classifier reads ordinary text exactly as before.  (Letters of a right-to-left script
    in such a text come out in the order drawn, reversed from the order they are read;
    the classifier reads English.)"""
    if not BIDI_CONTROLS.search(text):
        return text
    from bidi import get_display

    return BIDI_CONTROLS.sub("", get_display(text, base_dir="L"))


# Distinct stand-ins of bidirectional class L, none mirrored: the CJK unified ideographs.
_TAG_BASE, _TAGS = 0x4E00, 0x9FFF - 0x4E00


def reading_positions(text: str) -> tuple[str, list[int]]:
    """`reading_order(text)` and, for each of its characters, the index in `text` of the
    character it shows, so that what is found in the text as read (a token's saliency) can
    be placed on the text as stored.  Text without directional marks maps to itself.

    The layout is run a second time with every left-to-right letter replaced by a distinct
    ideograph, which has the same bidirectional class and so moves the same way; each
    ideograph names its letter.  Other characters (spaces, digits, punctuation) are
    matched to the nearest stored character drawn the same or mirrored."""
    if not BIDI_CONTROLS.search(text):
        return text, list(range(len(text)))
    from bidi import get_display

    shown = get_display(text, base_dir="L")
    tagged = [
        chr(_TAG_BASE + i) if i < _TAGS and unicodedata.bidirectional(c) == "L" else c
        for i, c in enumerate(text)
    ]
    moved = get_display("".join(tagged), base_dir="L")
    found = [ord(c) - _TAG_BASE if _is_tag(c, tagged) else -1 for c in moved]
    free = sorted(set(range(len(text))) - set(found))
    out, positions, last = [], [], 0
    for c, i in zip(shown, found, strict=True):
        if BIDI_CONTROLS.match(c):
            continue
        if i < 0:
            i = _nearest(text, free, c, last)
        last = i if i >= 0 else last
        out.append(c)
        positions.append(max(i, 0))
    return "".join(out), positions


def _is_tag(c: str, tagged: list[str]) -> bool:
    i = ord(c) - _TAG_BASE
    return 0 <= i < len(tagged) and tagged[i] == c


def _nearest(text: str, free: list[int], shown: str, near: int) -> int:
    """The free stored index nearest `near` whose character is `shown` or its mirror
    image (a bracket in a right-to-left run), taken from `free`; -1 if none."""
    from bidi.mirror import MIRRORED

    fits = [i for i in free if text[i] == shown or MIRRORED.get(text[i]) == shown]
    if not fits:
        return -1
    best = min(fits, key=lambda i: abs(i - near))
    free.remove(best)
    return best
