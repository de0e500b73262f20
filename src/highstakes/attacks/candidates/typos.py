"""Character edits a reader still reads as the same word: two neighbouring letters
swapped, one letter dropped or doubled, one letter struck on a neighbouring key.

Rules that keep the word recognisable (and so the snippet's label): only alphabetic words
of at least `min_length` letters are edited; the first letter is never touched (readers
lean on a word's first letter most; Rayner et al., 2006, "Raeding wrods with jubmled
lettrs"); a word of `min_length` letters only has letters swapped or doubled, keeping
all of them; a variant that is itself an English word ("meat" -> "met", "flank" ->
"flak") is not a misspelling but another word, and is dropped; and a word gets at most
one edit, which the transformation enforces by never editing a word twice.  The variants
are deterministic: the same word always yields the same list, so attacks and their
audits repeat exactly.
"""

from __future__ import annotations

from collections.abc import Callable

from highstakes.attacks.candidates.base import EditKind, Proposal
from highstakes.attacks.text import Field, words_of
from highstakes.data.records import Snippet


def _key_neighbours() -> dict[str, str]:
    """Letters next to each other on a QWERTY keyboard (same row, and the rows above and
    below)."""
    rows = ("qwertyuiop", "asdfghjkl", "zxcvbnm")
    out = {}
    for r, row in enumerate(rows):
        for c, key in enumerate(row):
            near = {row[j] for j in (c - 1, c + 1) if 0 <= j < len(row)}
            for other in (rows[i] for i in (r - 1, r + 1) if 0 <= i < len(rows)):
                near |= {other[j] for j in (c - 1, c, c + 1) if 0 <= j < len(other)}
            out[key] = "".join(sorted(near))
    return out


KEY_NEIGHBOURS = _key_neighbours()
KINDS = ("swap", "drop", "repeat", "key")


def _match_case(letter: str, like: str) -> str:
    return letter.upper() if like.isupper() else letter


def is_english(word: str) -> bool:
    """Whether `word` is an English word form (lemminflect's lexicon, or WordNet when it is
    installed): such a "typo" would read as another word."""
    from lemminflect import getAllLemmas

    if getAllLemmas(word.lower()):
        return True
    from highstakes.attacks.candidates.wordnet import WordNetMissing, wordnet_reader

    try:
        reader = wordnet_reader()
    except (WordNetMissing, ImportError):
        return False
    return any(reader.morphy(word.lower(), pos) for pos in "nvar")


def typo_variants(word: str, min_length: int = 4) -> list[tuple[str, str]]:
    """Every one-edit variant of `word` as (variant, kind), the kinds interleaved so that
    a prefix of the list mixes them; empty for short or non-alphabetic words."""
    if len(word) < min_length or not word.isalpha() or not word.isascii():
        return []
    by_kind: dict[str, list[str]] = {k: [] for k in KINDS}
    n = len(word)
    keep_all_letters = n == min_length
    for i in range(1, n):
        if i + 1 < n and word[i].lower() != word[i + 1].lower():
            by_kind["swap"].append(word[:i] + word[i + 1] + word[i] + word[i + 2 :])
        by_kind["repeat"].append(word[: i + 1] + word[i] + word[i + 1 :])
        if keep_all_letters:
            continue
        if word[i].lower() != word[i - 1].lower():  # dropping half of a double letter is no edit
            by_kind["drop"].append(word[:i] + word[i + 1 :])
        for key in KEY_NEIGHBOURS.get(word[i].lower(), "")[:2]:
            by_kind["key"].append(word[:i] + _match_case(key, word[i]) + word[i + 1 :])

    # middle letters first: edits at the word's end read more like another word
    def off_centre(variant: str) -> float:
        return abs(_first_difference(word, variant) - n / 2)

    for kind in KINDS:
        by_kind[kind].sort(key=off_centre)
    return interleaved(by_kind, {word.lower()})


def interleaved(by_kind: dict[str, list[str]], seen: set[str]) -> list[tuple[str, str]]:
    """Variants as (variant, kind): the first of each kind (in the dict's order), then the
    second of each, and so on; a variant in `seen` (lower case; added to as it goes) or
    that is an English word is left out."""
    out: list[tuple[str, str]] = []
    for rank in range(max(map(len, by_kind.values()), default=0)):
        for kind, variants in by_kind.items():
            if rank < len(variants) and variants[rank].lower() not in seen:
                seen.add(variants[rank].lower())
                if not is_english(variants[rank]):
                    out.append((variants[rank], kind))
    return out


def _first_difference(a: str, b: str) -> int:
    return next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), len(a))


Variants = Callable[[str, int], list[tuple[str, str]]]  # (word, min_length) -> (variant, kind)


class CharacterEdits:
    """A candidate source of misspellings: the first `k` variants of the word (by default
    `typo_variants`; another rule's, such as a benchmark's, under its own `name`)."""

    def __init__(
        self, min_length: int = 4, variants: Variants = typo_variants, name: str = "typo"
    ) -> None:
        self.min_length, self.variants, self.name = min_length, variants, name

    def propose(
        self, snippet: Snippet, field: Field, index: int, kind: EditKind, k: int
    ) -> list[Proposal]:
        if kind != "replace":
            return []
        word = words_of(getattr(snippet, field), field)[index].text
        variants = self.variants(word, self.min_length)[:k]
        return [Proposal(v, -float(rank), self.name) for rank, (v, _) in enumerate(variants)]
