"""Synonyms from WordNet 3.0, of the same sense and part of speech, inflected like the
word they replace.

WordNet comes from Debian's `wordnet-base` package (`/usr/share/wordnet`, installed by the
Makefile like chromium), read with nltk's WordNet reader; nothing is downloaded.  That
reader also wants a `lexnames` file, which Debian does not ship: `wordnet_reader` builds
a folder of links to the Debian files plus that small table (WordNet's 45 lexicographer
files, as listed in lexnames(5WN)).  `HIGHSTAKES_WORDNET` may name another WordNet 3.0
dictionary folder.

Sense and part of speech, without a tagger: the word's part of speech is read from its
neighbours (`guess_pos`: after a determiner a noun, after a pronoun or auxiliary a verb,
...) and must be one WordNet knows the word as; a word the context does not settle is
left alone.  The sense is the word's most frequent one in that part of speech (WordNet
orders senses by their frequency in the SemCor corpus), and only a word whose first
sense dominates its uses is replaced.  A synonym must have been seen in SemCor in that
sense (`Lemma.count() > 0`), which drops the rare and archaic names WordNet lists, and
that sense must be its own most frequent one too, so that a reader takes it the same way
("limped" is not replaced by "hitched", whose first sense is hooking something on).
Replacements are inflected to the original's form (tense, number, degree) with
lemminflect.
"""

from __future__ import annotations

import functools
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from highstakes.attacks.candidates.base import EditKind, Proposal
from highstakes.attacks.candidates.names import proper_nouns
from highstakes.attacks.constraints.basic import STOPWORDS
from highstakes.attacks.text import Field, word_list, words_of
from highstakes.data.records import Snippet

DEBIAN_WORDNET = Path("/usr/share/wordnet")
WORDNET_FILES = (
    "index.noun", "index.verb", "index.adj", "index.adv",
    "data.noun", "data.verb", "data.adj", "data.adv",
    "noun.exc", "verb.exc", "adj.exc", "adv.exc", "cntlist.rev",
)  # fmt: skip
# WordNet's lexicographer files, numbered as in lexnames(5WN); nltk's reader needs them.
LEXNAMES = [
    "adj.all",
    "adj.pert",
    "adv.all",
    "noun.Tops",
    "noun.act",
    "noun.animal",
    "noun.artifact",
    "noun.attribute",
    "noun.body",
    "noun.cognition",
    "noun.communication",
    "noun.event",
    "noun.feeling",
    "noun.food",
    "noun.group",
    "noun.location",
    "noun.motive",
    "noun.object",
    "noun.person",
    "noun.phenomenon",
    "noun.plant",
    "noun.possession",
    "noun.process",
    "noun.quantity",
    "noun.relation",
    "noun.shape",
    "noun.state",
    "noun.substance",
    "noun.time",
    "verb.body",
    "verb.change",
    "verb.cognition",
    "verb.communication",
    "verb.competition",
    "verb.consumption",
    "verb.contact",
    "verb.creation",
    "verb.emotion",
    "verb.motion",
    "verb.perception",
    "verb.possession",
    "verb.social",
    "verb.stative",
    "verb.weather",
    "adj.ppl",
]

INSTALL_HINT = (
    "WordNet is not installed: `sudo apt-get install wordnet-base` (Debian/Ubuntu; the "
    "Makefile does it), or set HIGHSTAKES_WORDNET to a WordNet 3.0 dict folder"
)


class WordNetMissing(RuntimeError):
    pass


def wordnet_folder() -> Path:
    """The dictionary folder: $HIGHSTAKES_WORDNET or Debian's."""
    folder = Path(os.environ.get("HIGHSTAKES_WORDNET") or DEBIAN_WORDNET)
    missing = [f for f in WORDNET_FILES if not (folder / f).exists()]
    if missing:
        raise WordNetMissing(f"{INSTALL_HINT} ({folder} lacks {', '.join(missing[:3])})")
    return folder


@functools.cache
def wordnet_reader() -> Any:
    """nltk's WordNet reader over the installed dictionary (built once per process)."""
    import warnings

    import nltk
    from nltk.corpus.reader.wordnet import WordNetCorpusReader

    source = wordnet_folder()
    root = Path(tempfile.gettempdir()) / f"highstakes-wordnet-{os.getuid()}"
    root.mkdir(exist_ok=True)
    for name in WORDNET_FILES:  # copies: nltk refuses symbolic and hard links (CWE-59)
        target, original = root / name, source / name
        if not target.exists() or target.stat().st_size != original.stat().st_size:
            shutil.copyfile(original, target)
    category = {"noun": 1, "verb": 2, "adj": 3, "adv": 4}  # the third column of lexnames
    lexnames = "".join(
        f"{i:02d}\t{name}\t{category[name.split('.')[0]]}\n" for i, name in enumerate(LEXNAMES)
    )
    (root / "lexnames").write_text(lexnames)
    if str(root.resolve()) not in nltk.data.path:  # nltk reads only below its data path
        nltk.data.path.append(str(root.resolve()))

    class EnglishWordNet(WordNetCorpusReader):
        """Without the multilingual data: nltk would map this WordNet onto its own
        downloaded copy, which the multilingual functions need and we never use."""

        def map_wn(self, version: str = "wordnet") -> None:
            return None

    with warnings.catch_warnings():  # "multilingual functions are not available": fine
        warnings.simplefilter("ignore")
        return EnglishWordNet(str(root), None)


def available() -> bool:
    try:
        wordnet_reader()
    except (WordNetMissing, ImportError):
        return False
    return True


# ---- part of speech from context ----------------------------------------------------------
DETERMINERS = frozenset(
    word_list(
        "a an the his her my their your its our this that these those every each some no "
        "any another either neither"
    )
)
SUBJECTS = frozenset(["i", "he", "she", "they", "we", "you", "it", "who"])
AUXILIARIES = frozenset(
    word_list(
        "to would could should will shall might must can may did does do had has have was "
        "were is are been be being not never also"
    )
)
WN_POS = {"NOUN": "n", "VERB": "v", "ADJ": "a", "ADV": "r"}
# closed-class words WordNet also lists as rare nouns or verbs ("he" -> "helium")
FUNCTION_WORDS = (
    STOPWORDS
    | DETERMINERS
    | SUBJECTS
    | AUXILIARIES
    | frozenset(
        word_list(
            "could would should might must shall before after since until while though "
            "although because along across against among around behind below beneath beside "
            "between beyond during except inside near outside past through toward towards "
            "upon within again ago almost already always ever once still yet even back away"
        )
    )
)


def guess_pos(words: list[str], index: int) -> str | None:
    """'NOUN', 'VERB', 'ADJ' or 'ADV' for words[index] when its neighbours settle it and
    lemminflect knows the word in that role; None otherwise."""
    from lemminflect import getAllLemmas

    word = words[index]
    roles = set(getAllLemmas(word.lower()))
    if not roles:
        return None
    previous = words[index - 1].lower() if index > 0 else ""
    following = words[index + 1].lower() if index + 1 < len(words) else ""
    if word.lower().endswith("ly") and "ADV" in roles:
        return "ADV"
    if previous in DETERMINERS:
        next_roles = set(getAllLemmas(following)) if following.isalpha() else set()
        if "ADJ" in roles and "NOUN" in next_roles and following not in DETERMINERS:
            return "ADJ"
        return "NOUN" if "NOUN" in roles else None
    if previous in SUBJECTS or previous in AUXILIARIES:
        if "VERB" in roles:
            return "VERB"
        if "ADJ" in roles and previous in ("was", "were", "is", "are", "been", "be"):
            return "ADJ"
        return None
    if len(roles & set(WN_POS)) == 1:  # only one reading: no context needed
        return next(iter(roles & set(WN_POS)))
    return None


def penn_tag(word: str, lemma: str, pos: str) -> str | None:
    """The Penn Treebank tag that inflects `lemma` into `word` (VBD, NNS, ...)."""
    from lemminflect import getInflection

    tags = {
        "VERB": ("VB", "VBD", "VBN", "VBG", "VBZ"),
        "NOUN": ("NN", "NNS"),
        "ADJ": ("JJ", "JJR", "JJS"),
        "ADV": ("RB",),
    }[pos]
    for tag in tags:
        if tag in ("VB", "NN", "JJ", "RB") and word.lower() == lemma:
            return tag
        if word.lower() in getInflection(lemma, tag=tag):
            return tag
    return None


def inflect(phrase: str, tag: str) -> str | None:
    """`phrase` (a WordNet lemma, maybe several words) in the form `tag`; the head is the
    first word for verbs ("pass away" -> "passed away") and the last for nouns."""
    from lemminflect import getInflection

    if tag in ("VB", "NN", "JJ", "RB"):
        return phrase
    parts = phrase.split()
    head = 0 if tag.startswith("VB") else len(parts) - 1
    forms = getInflection(parts[head], tag=tag)
    if not forms:
        return None
    parts[head] = forms[0]
    return " ".join(parts)


def dominance(senses: list[Any], lemma: str) -> float:
    """The share of the word's SemCor occurrences (in this part of speech) that are its
    first sense; 0 for a word SemCor never saw."""
    counts = [
        sum(x.count() for x in synset.lemmas() if x.name().lower() == lemma) for synset in senses
    ]
    return counts[0] / sum(counts) if sum(counts) else 0.0


def synonyms(
    words: list[str], index: int, reader: Any | None = None, min_dominance: float = 0.75
) -> list[str]:
    """Same-sense, same-part-of-speech synonyms of words[index], inflected to match.  Only
    a word whose first sense makes up `min_dominance` of its uses is replaced: without a
    sense tagger, that is how we know which sense the text means."""
    from lemminflect import getAllLemmas

    word = words[index]
    if word.lower() in FUNCTION_WORDS or len(word) < 3:
        return []
    pos = guess_pos(words, index)
    if pos is None:
        return []
    lemma = getAllLemmas(word.lower())[pos][0]
    tag = penn_tag(word, lemma, pos)
    reader = reader or wordnet_reader()
    senses = reader.synsets(lemma, WN_POS[pos])
    if tag is None or not senses or dominance(senses, lemma) < min_dominance:
        return []
    out: list[str] = []
    for candidate in senses[0].lemmas():
        name = candidate.name().replace("_", " ")
        if name.lower() == lemma or not name.replace(" ", "").isalpha() or candidate.count() < 1:
            continue
        head = name.split()[0 if pos == "VERB" else -1].lower()
        if head not in getAllLemmas(head).get(pos, (head,)):  # "terms": already inflected
            continue
        if reader.synsets(candidate.name(), WN_POS[pos])[:1] != senses[:1]:
            continue  # read alone, the synonym would mean something else ("limp" -> "hitch")
        form = inflect(name, tag)
        if form and form.lower() != word.lower() and form not in out:
            out.append(form[0].upper() + form[1:] if word[0].isupper() else form)
    return out


class WordNetSynonyms:
    """A candidate source of WordNet synonyms (see the module's notes on sense and POS)."""

    name = "wordnet"

    def __init__(self, reader: Any | None = None) -> None:
        self.reader = reader or wordnet_reader()

    @staticmethod
    def available() -> bool:
        return available()

    def propose(
        self, snippet: Snippet, field: Field, index: int, kind: EditKind, k: int
    ) -> list[Proposal]:
        if kind != "replace":
            return []
        words = [w.text for w in words_of(getattr(snippet, field), field)]
        if words[index] in proper_nouns(snippet):  # "Pike goes under" is not a fish:
            return []  # names are the name source's to swap (`candidates.names`)
        found = synonyms(words, index, self.reader)[:k]
        return [Proposal(w, -float(rank), self.name) for rank, w in enumerate(found)]
