"""The injury-phrase lexicon: hand-written groups of interchangeable expressions for the
same injury ("broke her wrist" / "fractured her wrist" / "cracked a bone in her wrist"),
kept as data in `highstakes/data/lexicon/injury_phrases.jsonl` (format and provenance in
the README beside it).

A phrase is literal text with up to three slots: `{pos}` (his, her, their, my, your,
its), `{obj}` (him, her, them, me, you, it) and `{part}` (one of the group's body parts).
`find` locates every phrase of every group in a text (case-insensitive, on word
boundaries); `alternatives` gives the other phrases of the group, filled with the same
slot values, so that a swap keeps the victim, the body part and the injury.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path

from highstakes.data.jsonl import iter_jsonl

LEXICON = Path(__file__).resolve().parents[1] / "data" / "lexicon" / "injury_phrases.jsonl"
SLOT_WORDS = {
    "pos": ("his", "her", "their", "my", "your", "its"),
    "obj": ("him", "her", "them", "me", "you", "it"),
}
SLOT_RE = re.compile(r"\{(pos|obj|part)\}")


@dataclass(frozen=True)
class Group:
    id: str
    injury: str
    phrases: tuple[str, ...]
    parts: tuple[str, ...] = ()


@dataclass(frozen=True)
class Match:
    group: Group
    phrase: str  # the template that matched
    start: int  # character span in the text
    end: int
    slots: tuple[tuple[str, str], ...]  # slot values as written, e.g. (("pos", "her"),)
    text: str  # as written in the text


def fill(phrase: str, slots: dict[str, str]) -> str:
    return SLOT_RE.sub(lambda m: slots[m.group(1)], phrase)


def _pattern(phrase: str, parts: tuple[str, ...]) -> re.Pattern[str]:
    choices = {**SLOT_WORDS, "part": parts}
    out, last = [], 0
    for m in SLOT_RE.finditer(phrase):
        out.append(r"\s+".join(map(re.escape, phrase[last : m.start()].split(" "))))
        out.append(f"(?P<{m.group(1)}>{'|'.join(map(re.escape, choices[m.group(1)]))})")
        last = m.end()
    out.append(r"\s+".join(map(re.escape, phrase[last:].split(" "))))
    return re.compile(r"(?<![\w'’])" + "".join(out) + r"(?![\w'’])", re.IGNORECASE)


class Lexicon:
    def __init__(self, groups: list[Group]) -> None:
        self.groups = groups
        self._patterns = [
            (g, phrase, _pattern(phrase, g.parts)) for g in groups for phrase in g.phrases
        ]
        self._found: dict[str, list[Match]] = {}

    @classmethod
    def load(cls, path: Path = LEXICON) -> Lexicon:
        groups = []
        for n, row in iter_jsonl(path):
            try:
                group = Group(
                    row["id"],
                    row.get("injury", ""),
                    tuple(row["phrases"]),
                    tuple(row.get("slots", {}).get("part", ())),
                )
            except (ValueError, KeyError, TypeError) as exc:
                raise ValueError(f"{path}:{n}: not a lexicon group ({exc})") from exc
            groups.append(group)
        return cls(groups)

    def __len__(self) -> int:
        return len(self.groups)

    def find(self, text: str) -> list[Match]:
        """Every phrase occurrence in `text` that no longer occurrence contains, in order."""
        if text not in self._found:
            if len(self._found) > 4096:  # an attack asks about the same few texts again
                self._found.clear()
            self._found[text] = self._find(text)
        return self._found[text]

    def _find(self, text: str) -> list[Match]:
        found = []
        for group, phrase, pattern in self._patterns:
            for m in pattern.finditer(text):
                slots = tuple((k, v) for k, v in m.groupdict().items() if v is not None)
                found.append(Match(group, phrase, m.start(), m.end(), slots, m.group()))
        found.sort(key=lambda m: (m.start, -(m.end - m.start)))
        # a phrase inside a longer one ("cut her hand" in "cut her hand open") is not
        # offered: swapping it would leave the longer phrase's tail dangling
        return [
            m
            for m in found
            if not any(
                o.start <= m.start and m.end <= o.end and o.end - o.start > m.end - m.start
                for o in found
            )
        ]

    def alternatives(self, match: Match) -> list[str]:
        """The group's other phrases with the match's slot values, case kept at the start."""
        original = match.text
        out = []
        for phrase in match.group.phrases:
            if phrase == match.phrase:
                continue
            text = fill(phrase, {k: v.lower() if k != "part" else v for k, v in match.slots})
            if original[:1].isupper():
                text = text[:1].upper() + text[1:]
            if text.lower() != original.lower() and text not in out:
                out.append(text)
        return out


@functools.cache
def default_lexicon() -> Lexicon:
    return Lexicon.load()
