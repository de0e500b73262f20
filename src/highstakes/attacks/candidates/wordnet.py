"""Synonyms from WordNet, when nltk and its WordNet corpus are installed.

Nothing here downloads data: without the corpus the source is unavailable and
`WordNetSynonyms.available()` says so.  Any object with nltk's `synsets(word)` API
(returning synsets with `lemma_names()`) can be passed in.
"""

from __future__ import annotations

from typing import Any

from highstakes.attacks.candidates.base import EditKind, Proposal
from highstakes.attacks.text import Field, words_of
from highstakes.data.records import Snippet


def nltk_wordnet() -> Any | None:
    try:
        from nltk.corpus import wordnet

        wordnet.synsets("dog")
    except Exception:  # nltk missing, or its corpus not downloaded
        return None
    return wordnet


class WordNetSynonyms:
    name = "wordnet"

    def __init__(self, wordnet: Any | None = None) -> None:
        self.wordnet = wordnet if wordnet is not None else nltk_wordnet()

    @staticmethod
    def available() -> bool:
        return nltk_wordnet() is not None

    def propose(
        self, snippet: Snippet, field: Field, index: int, kind: EditKind, k: int
    ) -> list[Proposal]:
        if kind != "replace" or self.wordnet is None:
            return []
        original = words_of(getattr(snippet, field), field)[index].text
        seen, out = {original.lower()}, []
        for rank, synset in enumerate(self.wordnet.synsets(original.lower())):
            for lemma in synset.lemma_names():
                word = lemma.replace("_", " ")
                if word.lower() in seen or not word.replace(" ", "").isalpha():
                    continue
                seen.add(word.lower())
                word = word[0].upper() + word[1:] if original[0].isupper() else word
                out.append(Proposal(word, -float(rank), self.name))  # earlier senses first
        return out[:k]
