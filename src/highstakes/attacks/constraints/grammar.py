"""Grammaticality of a one-place edit: does the sentence still read as English?

Two kinds of signal, both from models of English rather than lists of words to avoid:
- the causal LM (default: the embedded SmolLM2) reads the edited stretch and the
  original's next `right_window` tokens after it (`LanguageModelProposals.span_fluency`).
  A word that breaks the sentence makes what follows it unlikely ("shattering both of his
  ankles" -> "but both of his ankles on the concrete"), so the drop in the log-likelihood
  of those following tokens (`right`) is the main test; the drop of the whole stretch
  (`total`) has a loose bound, because a rare but grammatical word loses on its own
  probability alone ("the flight-half" and "the handgun butt" read fine).
- agreement, from lemminflect's English lexicon and WordNet's SemCor counts: a one-word
  replacement of a content word takes its part of speech and form (tense, number,
  degree: "shattering" -> "smashing", not "smashed" or "but"; after "to", "cut" ->
  "chop", not "chopped"), and commonly ("a black scratched" fails: "black" is a noun in
  4 of its 72 SemCor uses); "a"/"an" fits the next word's first sound; a subject pronoun
  fits a present-tense verb after it ("he like" fails).
SmolLM2-135M is a small model: it misses some breaks (a preposition for another, a verb
that needs an object); docs/audits/menu-fluency.jsonl has a read sample.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

from highstakes.attacks.base import Candidate
from highstakes.attacks.candidates.lm import FluencyChange, LanguageModelProposals
from highstakes.attacks.text import Edit, word_list, words_of
from highstakes.data.records import Snippet


@dataclass(frozen=True, slots=True)
class Judgement:
    fluency: float | None  # LM log-likelihood change of the edited stretch, nats (None: no LM)
    right_change: float | None  # the part of it on the original's following tokens
    form_agrees: bool | None  # article, subject-verb, part of speech; None: nothing to tell
    fluent: bool


@functools.cache
def semcor_counts() -> dict[tuple[str, str], int]:
    """How often each lemma was tagged in SemCor in each part of speech ('NOUN', 'VERB',
    'ADJ', 'ADV'), from WordNet's cntlist.rev; empty when WordNet is not installed."""
    from highstakes.attacks.candidates.wordnet import WordNetMissing, wordnet_folder

    try:
        lines = (wordnet_folder() / "cntlist.rev").read_text().splitlines()
    except (WordNetMissing, OSError):
        return {}
    out: dict[tuple[str, str], int] = {}
    for line in lines:  # "lemma%ss_type:lex_filenum:lex_id:head:head_id sense_number count"
        key, _, count = line.split()
        lemma, _, sense = key.partition("%")
        pos = SYNSET_TYPES.get(sense[:1])
        if pos:
            out[(lemma, pos)] = out.get((lemma, pos), 0) + int(count)
    return out


SYNSET_TYPES = {"1": "NOUN", "2": "VERB", "3": "ADJ", "4": "ADV", "5": "ADJ"}  # 5: satellite


def pos_share(word: str, pos: str) -> float | None:
    """The share of `word`'s SemCor uses that are in part of speech `pos` (its lemmas in
    each part of speech counted); None when SemCor never saw it."""
    from lemminflect import getAllLemmas

    counts = {
        p: sum(semcor_counts().get((lemma, p), 0) for lemma in set(lemmas))
        for p, lemmas in getAllLemmas(word.lower()).items()
        if p in ("NOUN", "VERB", "ADJ", "ADV")
    }
    total = sum(counts.values())
    return counts.get(pos, 0) / total if total else None


TAGS = {
    "VERB": ("VB", "VBD", "VBN", "VBG", "VBZ"),
    "NOUN": ("NN", "NNS"),
    "ADJ": ("JJ", "JJR", "JJS"),
    "ADV": ("RB", "RBR", "RBS"),
}


def penn_tags(word: str, pos: str, usual: bool = False) -> set[str]:
    """Every Penn tag `word` can carry in part of speech `pos` ("jumped": VBD and VBN);
    with `usual`, only as an inflection of its most used lemma ("fell": VBD of "fall",
    not VB of "fell" a tree)."""
    from lemminflect import getAllLemmas, getInflection

    found = set()
    lemmas = getAllLemmas(word.lower()).get(pos, ())
    if usual and lemmas:
        lemmas = (max(lemmas, key=lambda lemma: semcor_counts().get((lemma, pos), 0)),)
    for lemma in lemmas:
        for tag in TAGS.get(pos, ()):
            base = tag in ("VB", "NN", "JJ", "RB")
            if (base and word.lower() == lemma) or word.lower() in getInflection(lemma, tag=tag):
                found.add(tag)
    return found


def any_tags(word: str) -> set[str]:
    """The Penn tags of every reading of `word`, in every part of speech."""
    from lemminflect import getAllLemmas

    return {tag for pos in getAllLemmas(word.lower()) for tag in penn_tags(word, pos)}


def original_pos(words: list[str], index: int) -> str | None:
    """The part of speech of words[index]: from its neighbours (`guess_pos`) or, where they
    do not settle it, the one SemCor gives at least `DOMINANT_SHARE` of its uses."""
    from lemminflect import getAllLemmas

    from highstakes.attacks.candidates.wordnet import guess_pos

    pos = guess_pos(words, index)
    if pos is not None:
        return pos
    for candidate in getAllLemmas(words[index].lower()):
        share = pos_share(words[index], candidate)
        if share is not None and share >= DOMINANT_SHARE:
            return candidate
    return None


DOMINANT_SHARE = 0.9
# A replacement must have at least this share of its SemCor uses in the original's part of
# speech: "black" (4 of 72 uses a noun) does not stand for a noun, "jerk" (3 of 24) may.
MIN_POS_SHARE = 0.1


# The verb forms an auxiliary takes after it: "to cut" / "had cut" / "was cut(ting)".
BASE_FORM_AFTER = word_list(
    "to would could should will shall might must can may did does do didn't don't doesn't "
    "won't can't couldn't"
)
VERB_FORMS_AFTER: dict[str, set[str]] = {
    **{word: {"VB"} for word in BASE_FORM_AFTER},
    **{word: {"VBN"} for word in ("had", "has", "have", "having")},
    **{word: {"VBN", "VBG"} for word in word_list("was were is are been be being am")},
}
# Subject pronouns and the present-tense form they take: "he likes", "they like".
THIRD_PERSON = frozenset(("he", "she", "it"))
NOT_THIRD_PERSON = frozenset(("i", "you", "we", "they"))


def subject_agrees(words: list[str], index: int, replacement: str, kind: str) -> bool | None:
    """A subject pronoun put at `index` agrees with a present-tense verb right after it
    ("he like" and "they likes" fail); None where there is no such pair."""
    first = replacement.split()[0].lower() if replacement.split() else ""
    after_index = index + 1 if kind == "replace" else index
    if first not in THIRD_PERSON | NOT_THIRD_PERSON or after_index >= len(words):
        return None
    verb_tags = penn_tags(words[after_index], "VERB")
    present = verb_tags & {"VB", "VBZ"}
    if not present or verb_tags - {"VB", "VBZ"}:
        return None  # not a verb, or also a past form ("he cut"), which any subject takes
    return ("VBZ" in present) == (first in THIRD_PERSON) or present == {"VB", "VBZ"}


def form_agrees(words: list[str], index: int, replacement: str) -> bool | None:
    """Whether `replacement` can stand for content word words[index] in its part of
    speech and form.  Where the part of speech is settled, the replacement must take it,
    in the same form, and commonly; where it is not, the replacement must share a form
    with one of the word's readings ("stars": a plural noun or a verb with -s, so not
    "stellar" or "sky").  None when nothing can be told: a function word, a phrase, a
    replacement lemminflect does not know (a pronoun, a name)."""
    from lemminflect import getAllLemmas

    from highstakes.attacks.candidates.wordnet import DETERMINERS, FUNCTION_WORDS

    word = words[index]
    nominal = index > 0 and words[index - 1].lower() in DETERMINERS  # "his back": a noun
    if (word.lower() in FUNCTION_WORDS and not nominal) or not word.isalpha():
        return None
    if " " in replacement.strip():
        return None
    pos = original_pos(words, index)
    if pos is None:
        if not getAllLemmas(replacement.lower()) or not any_tags(word):
            return None
        return bool(any_tags(word) & any_tags(replacement))
    tags = penn_tags(word, pos, usual=True)
    if pos == "VERB" and index > 0:  # "had to cut": only the base form fits, not "chopped"
        tags = tags & VERB_FORMS_AFTER.get(words[index - 1].lower(), tags) or tags
    if not tags:
        return None
    if not tags & penn_tags(replacement, pos):
        return False
    share = pos_share(replacement, pos)
    return share is None or share >= MIN_POS_SHARE


# Words read with a vowel sound although spelled with a consonant, and the reverse: the
# only exceptions to a/an by first letter that a story is likely to need.
VOWEL_SOUND = ("hour", "honest", "honour", "honor", "heir")
CONSONANT_SOUND = ("uni", "use", "usu", "uti", "eu", "one", "once", "ewe", "ure", "uro")


def article_agrees(words: list[str], index: int, replacement: str, kind: str) -> bool | None:
    """'a' before a consonant sound, 'an' before a vowel sound, for the word put at
    `index` and the article before it (or, for an article put there, the word after)."""
    first = replacement.split()[0] if replacement.split() else ""
    before = words[index - 1].lower() if index > 0 else ""
    after_index = index + 1 if kind == "replace" else index
    after = words[after_index] if after_index < len(words) else ""
    if before in ("a", "an") and first[:1].isalpha():
        return (before == "an") == vowel_sound(first)
    if first.lower() in ("a", "an") and after[:1].isalpha():
        return (first.lower() == "an") == vowel_sound(after)
    return None


def vowel_sound(word: str) -> bool:
    w = word.lower()
    if w.startswith(VOWEL_SOUND):
        return True
    return w[:1] in "aeiou" and not w.startswith(CONSONANT_SOUND)


@dataclass
class Grammaticality:
    """An edit is fluent when nothing disagrees (see the module notes), its following
    tokens lose at most `max_right_drop` nats and the whole stretch at most `max_drop`.

    The bounds were set by reading about 40 menus of demo snippets (all their items, not
    the read sample of docs/audits/menu-fluency.jsonl): 3.5 nats on the next six tokens
    (about 30 times less likely) rejected most replacements that break the sentence
    ("looked the back of her wrist": -8.8) while keeping most that do not; grammatical
    rare words lost up to about 12 nats in all ("spread up almost to the concussion")."""

    scorer: LanguageModelProposals | None = None
    max_right_drop: float = 3.5
    max_drop: float = 14.0
    right_window: int = 6  # following tokens read: most clauses show a break within six
    left_window: int = 32  # context tokens before the edit the LM reads it with
    name: str = "grammar"

    def judge(self, snippet: Snippet, edits: Sequence[Edit]) -> list[Judgement]:
        """One judgement per edit of `snippet` (each edit on its own, not in sequence);
        edits at the same place share one LM batch."""
        texts = {
            f: [w.text for w in words_of(getattr(snippet, f), f)] for f in ("prompt", "completion")
        }
        agreements = [self._agrees(texts[e.field], e) for e in edits]
        changes: list[FluencyChange | None] = [None] * len(edits)
        if self.scorer is not None:  # read by the LM: the edits whose form does not fail
            groups: dict[tuple[str, str, int, int], list[int]] = {}
            for i, e in enumerate(edits):
                if agreements[i] is not False:
                    groups.setdefault((e.field, e.kind, e.index, e.span), []).append(i)
            for (field, kind, index, span), members in groups.items():
                found = self.scorer.span_fluency(
                    snippet,
                    field,  # type: ignore[arg-type]
                    index,
                    kind,  # type: ignore[arg-type]
                    [edits[i].text for i in members],
                    span,
                    self.right_window,
                    self.left_window,
                )
                for i, found_change in zip(members, found, strict=True):
                    changes[i] = found_change
        out = []
        for agrees, change in zip(agreements, changes, strict=True):
            lm_ok = (
                agrees is False
                or change is None
                or (change.right >= -self.max_right_drop and change.total >= -self.max_drop)
            )
            out.append(
                Judgement(
                    None if change is None else change.total,
                    None if change is None else change.right,
                    agrees,
                    lm_ok and agrees is not False,
                )
            )
        return out

    @staticmethod
    def _agrees(words: list[str], e: Edit) -> bool | None:
        """Article, subject and verb, then part of speech and form (one-word
        replacements)."""
        agrees = article_agrees(words, e.index, e.text, e.kind)
        subject = subject_agrees(words, e.index, e.text, e.kind)
        if subject is not None:
            agrees = subject if agrees is None else agrees and subject
        if agrees is False or e.kind != "replace" or e.span != 1:
            return agrees
        form = form_agrees(words, e.index, e.text)
        return form if agrees is None else form is not False

    def check(self, original: Snippet, candidates: Sequence[Candidate]) -> list[bool]:
        """As a constraint: each candidate's latest edit, judged against its parent."""
        out = []
        for c in candidates:
            if not c.edits or c.parent is None:
                out.append(True)
                continue
            out.append(self.judge(c.parent, [c.edits[-1]])[0].fluent)
        return out
