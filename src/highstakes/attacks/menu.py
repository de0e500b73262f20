"""The click-a-word menu of the rewriting tool: plausible replacements (or insertions)
for one word, each with the classifier score it would give.  Besides single words
(`sources`), edit sources may offer larger edits at the word, such as the injury
lexicon's other phrases for the injury the word is part of.

Fluent first: with a `grammar` judge, the edits that keep the sentence grammatical come
first, lowest score first (what an attacker looks for).  When at least `min_items` edits
are fluent the others are left out; otherwise the least bad of them (by the judge) fill
the menu up to `min_items`, below the fluent ones.  Only the edits shown are
scored, all in one batch on the classifier's fast path.

Menus are kept by text and place in a small LRU, so a menu computed ahead of the click
(`ScoringService.prefetch_menus`: the words of the snippet the attacker is looking at,
most salient first) is served at once.  `menu_steps` builds a menu in three steps (the
proposals, the grammar judge's LM batch, the classifier's batch) and pauses between
them, so that a click can go before the rest of a menu computed ahead of it.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Generator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from highstakes.attacks.candidates.base import CandidateSource, EditKind
from highstakes.attacks.constraints.grammar import Grammaticality, Judgement
from highstakes.attacks.text import Edit, Field, apply_edit, words_of
from highstakes.attacks.transformation import propose_all
from highstakes.data.records import Snippet
from highstakes.models.classifier import Classifier

MenuKey = tuple[str, str, str, int, str]  # prompt, completion, field, index, kind


@dataclass(frozen=True, slots=True)
class MenuItem:
    word: str
    source: str
    prior: float
    score: float  # the classifier's score with this edit applied
    edit: Edit
    snippet: Snippet
    fluency: float | None = None  # LM log-likelihood change of the edited stretch, nats
    fluent: bool = True  # the grammar judge's verdict (True without a judge)


# A menu being built: pauses twice, yielding how many items the next step takes (the
# offers the grammar judge reads, then the candidates the classifier scores), and
# returns the menu.
MenuSteps = Generator[int, None, list[MenuItem]]


@dataclass(frozen=True, slots=True)
class _Offer:
    word: str
    source: str
    prior: float
    edit: Edit
    snippet: Snippet


class SubstitutionMenu:
    def __init__(
        self,
        classifier: Classifier,
        sources: Sequence[CandidateSource],
        k_per_source: int = 14,
        k_by_source: Mapping[str, int] | None = None,
        edit_sources: Sequence[Any] = (),  # highstakes.attacks.preserving.EditSource
        grammar: Grammaticality | None = None,
        min_items: int = 20,
        max_items: int = 32,
        cache_size: int = 512,
    ) -> None:
        self.classifier = classifier
        self.sources = list(sources)
        self.k_per_source = k_per_source
        self.k_by_source = dict(k_by_source or {})  # by source name, where not k_per_source
        self.edit_sources = list(edit_sources)
        self.grammar = grammar
        self.min_items = min_items  # non-fluent edits fill the menu up to this many
        self.max_items = max_items  # at most this many are scored and shown
        self.cache_size = cache_size
        self._cache: OrderedDict[MenuKey, list[MenuItem]] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    @staticmethod
    def key(snippet: Snippet, field: Field, index: int, kind: EditKind) -> MenuKey:
        return (snippet.prompt, snippet.completion, field, index, kind)

    def peek(
        self, snippet: Snippet, field: Field, index: int, kind: EditKind = "replace"
    ) -> list[MenuItem] | None:
        """The kept menu, if there is one (not counted as a use)."""
        with self._lock:
            return self._cache.get(self.key(snippet, field, index, kind))

    def cached(
        self, snippet: Snippet, field: Field, index: int, kind: EditKind = "replace"
    ) -> list[MenuItem] | None:
        """The kept menu, if there is one, counted as a hit and kept longest."""
        key = self.key(snippet, field, index, kind)
        with self._lock:
            items = self._cache.get(key)
            if items is not None:
                self._cache.move_to_end(key)
                self.hits += 1
            return items

    def clear(self, readings: bool = False) -> None:
        """Empty the kept menus and, with `readings`, the language model source's readings
        of texts (`LanguageModelProposals.forget`): the next menu is built wholly cold."""
        from highstakes.attacks.candidates.lm import LanguageModelProposals

        with self._lock:
            self._cache.clear()
        for source in self.sources if readings else ():
            if isinstance(source, LanguageModelProposals):  # the one source that keeps any
                source.forget()

    def menu(
        self, snippet: Snippet, field: Field, index: int, kind: EditKind = "replace"
    ) -> list[MenuItem]:
        """The menu for one slot: from the cache, or built and kept there."""
        return run_steps(self.menu_steps(snippet, field, index, kind))

    def menu_steps(
        self, snippet: Snippet, field: Field, index: int, kind: EditKind = "replace"
    ) -> MenuSteps:
        """`menu`, pausing between the steps of a build (see the module notes)."""
        items = self.cached(snippet, field, index, kind)
        if items is not None:
            return items
        self.misses += 1
        items = yield from self.build_steps(snippet, field, index, kind)
        with self._lock:
            self._cache[self.key(snippet, field, index, kind)] = items
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
        return items

    def build(
        self, snippet: Snippet, field: Field, index: int, kind: EditKind = "replace"
    ) -> list[MenuItem]:
        """All sources' proposals for one slot, judged, the shown ones scored in one batch;
        fluent first, then lowest score first."""
        return run_steps(self.build_steps(snippet, field, index, kind))

    def build_steps(
        self, snippet: Snippet, field: Field, index: int, kind: EditKind = "replace"
    ) -> MenuSteps:
        """`build`, pausing after the proposals and after the grammar judge."""
        offers = self._offers(snippet, field, index, kind)
        if not offers:
            return []
        yield len(offers)
        if self.grammar is None:
            judged = [(o, Judgement(None, None, None, True)) for o in offers]
        else:
            verdicts = self.grammar.judge(snippet, [o.edit for o in offers])
            judged = list(zip(offers, verdicts, strict=True))
        shown = self._choose(judged)
        yield len(shown)
        scores = self.classifier.score([o.snippet for o, _ in shown], fast=True)
        items = [
            MenuItem(o.word, o.source, o.prior, float(s), o.edit, o.snippet, j.fluency, j.fluent)
            for (o, j), s in zip(shown, scores, strict=True)
        ]
        fluent = sorted((i for i in items if i.fluent), key=lambda item: item.score)
        return fluent + [i for i in items if not i.fluent]  # already the least bad first

    def _offers(self, snippet: Snippet, field: Field, index: int, kind: EditKind) -> list[_Offer]:
        words = words_of(getattr(snippet, field), field)
        limit = len(words) if kind == "insert" else len(words) - 1
        if not 0 <= index <= limit:
            raise IndexError(f"{field} has no {'gap' if kind == 'insert' else 'word'} {index}")
        proposals = propose_all(
            self.sources, snippet, field, index, kind, self.k_per_source, self.k_by_source
        )
        original = words[index].text if kind == "replace" else ""
        offers = []
        for p in proposals:
            edit = Edit(field, kind, index, p.word, original)
            offers.append(_Offer(p.word, p.source, p.prior, edit, apply_edit(snippet, edit)))
        if kind == "replace":
            for source in self.edit_sources:
                for group in source.edits(snippet, field, index):
                    edited = snippet
                    for e in group:
                        edited = apply_edit(edited, e)
                    offers.append(_Offer(group[0].text, source.how, 0.0, group[0], edited))
        return offers

    def _choose(self, judged: list[tuple[_Offer, Judgement]]) -> list[tuple[_Offer, Judgement]]:
        """The fluent offers (the most fluent if there are too many), topped up with the
        most fluent of the rest to `min_items`."""

        def badness(pair: tuple[_Offer, Judgement]) -> tuple[bool, float]:
            j = pair[1]  # a wrong form is worse than any LM drop; the LM reads only the rest
            return (j.form_agrees is False, -(j.fluency if j.fluency is not None else 0.0))

        fluent = [p for p in judged if p[1].fluent]
        rest = sorted((p for p in judged if not p[1].fluent), key=badness)
        if len(fluent) > self.max_items:
            fluent = sorted(fluent, key=badness)[: self.max_items]
        return fluent + rest[: max(0, self.min_items - len(fluent))]


def run_steps(steps: MenuSteps) -> list[MenuItem]:
    """Run a menu's steps without pausing; its result."""
    while True:
        try:
            next(steps)
        except StopIteration as done:
            return done.value
