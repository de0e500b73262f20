"""Proper nouns swapped for others of the same kind: who is hurt, and where, does not
decide whether a snippet is injurious, so a name swap keeps the label by construction.

A proper noun is a capitalized word that the snippet uses at least once inside a sentence
(not only as a sentence's first word; a given name from our lists may), never writes in
lower case, and that is not a title, a kinship word, a weekday, a month or a language.  Every
occurrence, in the prompt and the completion, is replaced at once, possessives included,
so the story stays consistent.
Given names we know keep their gender (pronouns elsewhere still agree); places (after
"in", "to", "from", "at" or "near", or before "Street", "Road", ...) become other places;
any other proper noun becomes a surname.  A name that is also written as a possessive,
follows a title or rank ("Corporal Hanley"), a given name, "named" or "called", or is on
our surname list, is a person (or an animal) wherever else it stands: "from Hanley's
wrist" and "home runs to Castillo" do not make places of them, and a surname in place of a
place reads better than a city in place of a person ("Nairobi's wrist").
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Sequence

from highstakes.attacks.text import Edit, Field, Word, word_list, words_of
from highstakes.data.records import Snippet

FEMALE = word_list(
    "Alice Anna Beatrice Clara Dana Edith Elena Emma Fatima Grace Hannah Helen Ines "
    "Iris Jane Julia Kate Laura Leila Lucy Maria Mara Maya Nadia Nina Nora Olivia "
    "Priya Rosa Ruth Sarah Sofia Tessa Vera Zoe Amara Orla Lena Ruby Anya Lucia Ilse "
    "Tamsin Maggie Rose"
)
MALE = word_list(
    "Adam Ben Carlos Daniel David Elias Felix George Hamish Henry Hugo Ivan Jack "
    "James Jonah Karl Leo Liam Lucas Marcus Mateo Noah Omar Oscar Paul Pete Ravi Sam "
    "Simon Theo Tom Victor Will Yusuf Amos Callum Ewan Finn Otto Tobias Rufus Bram "
    "Oskar Danny Hank"
)
SURNAMES = word_list(
    "Abbott Baker Brennan Castillo Doyle Ellison Farrow Garner Hadley Ibsen Jarvis "
    "Kowalski Lindgren Moreau Nakamura Okonkwo Pascoe Quinlan Rahman Sorensen Tate "
    "Underwood Varga Whitlock Yates Zeller"
)
PLACES = word_list(
    "Aberdeen Bristol Cardiff Denver Dublin Galway Hamburg Lisbon Lyon Madrid Nairobi "
    "Oslo Perth Porto Quebec Seville Tampere Toledo Utrecht Valencia Winnipeg York"
)
# Words before a name that make it a person's: titles, ranks and callings.
TITLES = frozenset(
    word_list(
        "Mr Mrs Ms Miss Dr Sir Madam Lady Lord Dame King Queen Prince Princess Captain "
        "Sergeant Corporal Private Major Colonel General Lieutenant Commander Admiral "
        "Marshal Sheriff Deputy Officer Constable PC Inspector Detective Agent Doctor Nurse "
        "Professor Father Mother Sister Brother Aunt Uncle Saint Farmer Coach Judge Paramedic "
        "Counselor Counsellor Decurion Pastor Reverend Mayor"
    )
)
NOT_NAMES = TITLES | frozenset(
    word_list(
        "I Dad Mum Mom Mama Papa Grandma Grandpa Granny Gran Nana Nan Grandad Granddad "
        "Grandmother Grandfather God Monday Tuesday Wednesday Thursday Friday Saturday "
        "Sunday January February March April May June July August September October "
        "November December Christmas Easter English French German Spanish Arabic Italian "
        "Russian Chinese Japanese OK TV"
    )
)
PLACE_BEFORE = frozenset(["in", "to", "from", "at", "near"])
PLACE_AFTER = frozenset(
    ["Street", "Road", "Lane", "Avenue", "Square", "Bridge", "River", "Hill", "Park"]
)
SENTENCE_END = frozenset(".!?")
GIVEN_NAMES = frozenset(FEMALE) | frozenset(MALE)
NAMING = frozenset(["named", "called"])


def _bare(word: str) -> tuple[str, str]:
    """("Pete", "'s") for "Pete's"; the suffix is empty for a plain word."""
    m = re.match(r"^([A-Za-z]+)(['’]s)?$", word)
    return (m.group(1), m.group(2) or "") if m else ("", "")


@functools.lru_cache(maxsize=1024)
def proper_nouns(snippet: Snippet) -> dict[str, str]:
    """Each proper noun of the snippet and its kind: 'female', 'male', 'place', 'other'."""
    inside: set[str] = set()
    lower: set[str] = set()
    kinds: dict[str, str] = {}
    people = set(SURNAMES)
    for field in ("prompt", "completion"):
        words = words_of(getattr(snippet, field), field)
        for i, w in enumerate(words):
            name, suffix = _bare(w.text)
            if not name:
                continue
            if name[0].islower():
                lower.add(name.lower())
                continue
            before = _word_before(words, i)
            at_start = not before or before in SENTENCE_END or before in "'\"“‘"
            if not at_start or name in GIVEN_NAMES:
                inside.add(name)
            after = words[i + 1].text if i + 1 < len(words) else ""
            if before.lower() in PLACE_BEFORE or after in PLACE_AFTER:
                kinds.setdefault(name, "place")
            # a person's (or an animal's) name: "Hanley's", "Corporal Hanley", "named Pim";
            # not a verb after it ("the well at Cresswell ran dry") nor "who" ("the girl in
            # Portsmouth who wrote"), which made people of places
            cue = _bare(before)[0]
            if suffix or cue in TITLES or cue in GIVEN_NAMES or cue.lower() in NAMING:
                people.add(name)
    out = {}
    for name in sorted(inside):
        if name in NOT_NAMES or name.lower() in lower or len(name) < 2 or name.isupper():
            continue
        kind = "female" if name in FEMALE else "male" if name in MALE else None
        out[name] = kind or ("other" if name in people else kinds.get(name, "other"))
    return out


def _word_before(words: Sequence[Word], i: int) -> str:
    """The word before words[i] ("" for the first), reading past a title's period, which
    the word splitter keeps apart: "Mr. Hanley" -> "Mr", not a sentence's end."""
    if i > 1 and words[i - 1].text == "." and words[i - 2].text in TITLES:
        return words[i - 2].text
    return words[i - 1].text if i > 0 else ""


def replacements(name: str, kind: str, taken: set[str], k: int) -> list[str]:
    """Up to `k` names of the same kind, not already in the snippet, in an order fixed by
    the name (so runs repeat)."""
    pool = {"female": FEMALE, "male": MALE, "place": PLACES}.get(kind, SURNAMES)
    start = int(hashlib.sha256(name.encode()).hexdigest()[:8], 16) % len(pool)
    ordered = pool[start:] + pool[:start]
    return [n for n in ordered if n != name and n not in taken][:k]


def swap_edits(snippet: Snippet, name: str, new: str) -> tuple[Edit, ...]:
    """Edits that replace every occurrence of `name` (possessives too) with `new`."""
    edits = []
    fields: tuple[Field, Field] = ("prompt", "completion")
    for field in fields:
        for w in words_of(getattr(snippet, field), field):
            bare, suffix = _bare(w.text)
            if bare == name:
                edits.append(Edit(field, "replace", w.index, new + suffix, w.text, how="name"))
    return tuple(edits)


class NameSwaps:
    """Edit source: at a proper noun, the snippet with that name swapped everywhere."""

    how = "name"

    def __init__(self, k: int = 3) -> None:
        self.k = k

    def edits(self, snippet: Snippet, field: Field, index: int) -> list[tuple[Edit, ...]]:
        bare, _ = _bare(words_of(getattr(snippet, field), field)[index].text)
        names = proper_nouns(snippet)
        if bare not in names:
            return []
        taken = set(names)
        return [
            swap_edits(snippet, bare, new) for new in replacements(bare, names[bare], taken, self.k)
        ]
