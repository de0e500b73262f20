"""Attack recipes: small functions that put parts together.  Each returns an `Attack`
whose `run(classifier, snippet, threshold, budget)` returns a `SearchResult`.

Each recipe declares whether its results keep the attacked snippet's label by
construction (`PRESERVES_LABEL`): `typos` and `rewording` do (character edits, WordNet
synonyms of the same sense, injury-lexicon phrases, name swaps, neutral insertions);
`substitution` (masked-LM and embedding neighbours) and `paraphrase` (a language model's
rewrite) change meaning, so a person or a judge model must read their results.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from highstakes.attacks.base import (
    BelowThreshold,
    BudgetExhausted,
    Candidate,
    Constraint,
    QueryCounter,
    SearchMethod,
    SearchResult,
    SearchSteps,
    Transformation,
    drive,
)
from highstakes.attacks.paraphrase import Paraphraser, drop_near_duplicates
from highstakes.data.records import Snippet
from highstakes.models.classifier import Classifier


class Attack:
    """Anything with a name that attacks one snippet within a query budget."""

    name: str
    preserves_label: bool = False  # results keep the source's label by construction

    def run(
        self, classifier: Classifier, snippet: Snippet, threshold: float, budget: int
    ) -> SearchResult:
        raise NotImplementedError


@dataclass
class SearchAttack(Attack):
    """Transformation + constraints + search + goal (below the threshold)."""

    name: str
    transformation: Transformation
    constraints: Sequence[Constraint]
    search: SearchMethod
    preserves_label: bool = False

    def run(
        self, classifier: Classifier, snippet: Snippet, threshold: float, budget: int
    ) -> SearchResult:
        counter = QueryCounter(classifier, budget, threshold=threshold)
        return drive(self.steps(counter, snippet), counter.scores)

    def steps(
        self, counter: QueryCounter, snippet: Snippet, positions: Sequence[Any] | None = None
    ) -> SearchSteps:
        """`run` step by step, within `counter`'s budget and below its threshold
        (`positions`: the transformation's for `snippet`, if computed beforehand)."""
        if counter.threshold is None:
            raise ValueError("a search attack's counter needs the threshold it attacks")
        goal = BelowThreshold(counter.threshold)
        return self.search.steps(
            snippet, self.transformation, self.constraints, goal, counter, positions
        )


@dataclass
class ParaphraseAttack(Attack):
    """Rewrite the completion `n_paraphrases` ways; keep the lowest-scoring rewrite."""

    paraphraser: Paraphraser
    n_paraphrases: int = 16
    encoder: Any | None = None  # sentence encoder for near-duplicate removal
    name: str = "paraphrase"

    def run(
        self, classifier: Classifier, snippet: Snippet, threshold: float, budget: int
    ) -> SearchResult:
        counter = QueryCounter(classifier, budget)
        original_score = float(counter.score([snippet])[0])
        start = Candidate(snippet, score=original_score)
        result = SearchResult(snippet, original_score, start, False, 0, [original_score])
        texts = self.paraphraser.paraphrase(snippet, min(self.n_paraphrases, max(counter.left, 0)))
        texts = drop_near_duplicates(snippet.completion, texts, self.encoder)
        candidates = [
            Candidate(Snippet(snippet.prompt, t), (), snippet, self.paraphraser.name) for t in texts
        ]
        scores: Sequence[float] = []
        try:
            if candidates:
                scores = counter.score([c.snippet for c in candidates]).tolist()
        except BudgetExhausted:
            pass
        scored = sorted(
            (
                Candidate(c.snippet, c.edits, c.parent, c.source, float(s))
                for c, s in zip(candidates, scores, strict=False)
            ),
            key=lambda c: c.score or 0.0,
        )
        goal = BelowThreshold(threshold)
        result.found = [c for c in scored if goal.is_goal_complete(c.score or 0.0)]
        if scored and (scored[0].score or 0.0) < original_score:
            result.best = scored[0]
            result.trace.append(scored[0].score or 0.0)
        result.succeeded = bool(result.found)
        result.queries = counter.used
        return result


def substitution(
    classifier: Classifier,
    lm: Any | None = None,
    encoder: Any | None = None,
    *,
    beam_width: int = 1,
    k_per_source: int = 6,
    insertions: bool = True,
    max_words_changed: float = 0.10,
    allow_stopwords: bool = False,
    max_fluency_drop: float | None = 4.0,
    min_similarity: float = 0.8,
    use_lm_proposals: bool = True,
) -> SearchAttack:
    """Word substitutions and insertions guided by saliency, proposals from the LM (left
    context, re-ranked with the right) and the classifier's embedding neighbours.

    Defaults: at most 10% of words changed, each edit costing at most 4 nats of LM
    likelihood, and a sentence-embedding similarity floor of 0.8, near TextFooler's 0.84
    (Jin et al., 2020).  Looser settings flip more snippets but mostly by removing the
    injury (thumb -> skirt), which a labeler then rejects: success here is an upper bound
    until a labeler confirms each result is still injurious.

    With `use_lm_proposals=False` and `max_fluency_drop=None` no language model is loaded:
    a cheap variant (embedding neighbours only) for loops on small machines.
    """
    from highstakes.attacks.candidates.embedding import EmbeddingNeighbours
    from highstakes.attacks.candidates.lm import LanguageModelProposals
    from highstakes.attacks.constraints import (
        FluencyDrop,
        MaxWordsChanged,
        PartOfSpeechAgreement,
        SentenceSimilarity,
        StopwordsProtected,
    )
    from highstakes.attacks.constraints.similarity import SentenceEncoder
    from highstakes.attacks.search import BeamSearch
    from highstakes.attacks.transformation import WordSubstitution
    from highstakes.models.generator import CausalLM

    needs_lm = use_lm_proposals or max_fluency_drop is not None
    lm_source = LanguageModelProposals(lm or CausalLM.from_pretrained()) if needs_lm else None
    sources: list[Any] = [EmbeddingNeighbours(classifier)]
    if use_lm_proposals:
        sources.insert(0, lm_source)
    constraints: list[Constraint] = [
        StopwordsProtected(allow=allow_stopwords),
        MaxWordsChanged(max_words_changed),
        PartOfSpeechAgreement(),
    ]
    if max_fluency_drop is not None:
        assert lm_source is not None
        constraints.append(FluencyDrop(lm_source, max_fluency_drop))
    constraints.append(SentenceSimilarity(encoder or SentenceEncoder(), min_similarity))
    transformation = WordSubstitution(sources, k_per_source=k_per_source, insertions=insertions)
    return SearchAttack("substitution", transformation, constraints, BeamSearch(beam_width))


def paraphrase(
    paraphraser: Paraphraser | None = None, encoder: Any | None = None, n_paraphrases: int = 16
) -> ParaphraseAttack:
    """LM paraphrases of the completion; default paraphraser: the embedded SmolLM2."""
    from highstakes.attacks.paraphrase import LocalParaphraser
    from highstakes.models.generator import CausalLM

    return ParaphraseAttack(
        paraphraser or LocalParaphraser(CausalLM.from_pretrained()), n_paraphrases, encoder
    )


def typos(
    classifier: Classifier,
    *,
    k_per_word: int = 6,
    max_typos: int = 4,
    min_length: int = 4,
    beam_width: int = 1,
) -> SearchAttack:
    """Character edits (swap, drop, double, neighbouring key) in words of `min_length` or
    more letters, at most one per word and `max_typos` per snippet, in saliency order: a
    reader still reads the same words, so the label is kept."""
    from highstakes.attacks.candidates.typos import CharacterEdits
    from highstakes.attacks.preserving import LabelPreserving, WordEdits
    from highstakes.attacks.search import BeamSearch

    source = WordEdits(CharacterEdits(min_length), "typo", k_per_word)
    transformation = LabelPreserving([source], {"typo": max_typos})
    search = BeamSearch(beam_width)
    return SearchAttack("typos", transformation, [], search, preserves_label=True)


def rewording(
    classifier: Classifier,
    *,
    k_per_word: int = 4,
    wordnet: bool = True,
    lexicon: bool = True,
    names: bool = True,
    neutral: bool = True,
    limits: dict[str, int] | None = None,
) -> SearchAttack:
    """Rewording that keeps the label: WordNet synonyms of the same sense, other phrases
    for the same injury from the lexicon, proper nouns swapped, neutral openers and prompt
    sentences inserted; each kind capped per snippet (`preserving.DEFAULT_LIMITS`)."""
    from highstakes.attacks.candidates.names import NameSwaps
    from highstakes.attacks.candidates.neutral import NeutralInsertions
    from highstakes.attacks.candidates.wordnet import WordNetSynonyms
    from highstakes.attacks.lexicon import default_lexicon
    from highstakes.attacks.preserving import (
        DEFAULT_LIMITS,
        EditSource,
        LabelPreserving,
        LexiconEdits,
        WordEdits,
    )
    from highstakes.attacks.search import BeamSearch

    sources: list[EditSource] = []
    if lexicon:
        sources.append(LexiconEdits(default_lexicon(), k_per_word))
    if wordnet:
        sources.append(WordEdits(WordNetSynonyms(), "synonym", k_per_word))
    if names:
        sources.append(NameSwaps(k_per_word))
    if neutral:
        sources.append(NeutralInsertions(k_per_word))
    if not sources:
        raise ValueError("rewording needs at least one of wordnet, lexicon, names, neutral")
    transformation = LabelPreserving(sources, {**DEFAULT_LIMITS, **(limits or {})})
    return SearchAttack("rewording", transformation, [], BeamSearch(1), preserves_label=True)


# whether each recipe's results keep the attacked snippet's label by construction
PRESERVES_LABEL = {"substitution": False, "paraphrase": False, "typos": True, "rewording": True}
RECIPES = tuple(PRESERVES_LABEL)
# recipes that read text with a sentence encoder or a language model besides the classifier
USES_MODELS = frozenset({"substitution", "paraphrase"})


def build(
    name: str,
    classifier: Classifier,
    lm: Any | None = None,
    encoder: Any | None = None,
    paraphraser: Paraphraser | None = None,
    **options: Any,
) -> Attack:
    """A recipe by name, sharing already loaded models."""
    if name == "substitution":
        return substitution(classifier, lm, encoder, **options)
    if name == "paraphrase":
        if paraphraser is None and lm is not None:
            from highstakes.attacks.paraphrase import LocalParaphraser

            paraphraser = LocalParaphraser(lm)
        return paraphrase(paraphraser, encoder, **options)
    if name == "typos":
        return typos(classifier, **options)
    if name == "rewording":
        return rewording(classifier, **options)
    raise ValueError(f"unknown recipe {name!r}; choose one of {', '.join(RECIPES)}")


def require_label_preserving(recipe: str, labeler: str = "kept") -> None:
    """Refuse to let `labeler` (which reads nothing) label a recipe that changes meaning."""
    if recipe not in PRESERVES_LABEL:
        raise ValueError(f"unknown recipe {recipe!r}; choose one of {', '.join(RECIPES)}")
    if not PRESERVES_LABEL[recipe]:
        keeping = ", ".join(r for r, keeps in PRESERVES_LABEL.items() if keeps)
        raise ValueError(
            f"the {labeler!r} labeler cannot label results of the {recipe!r} recipe: its edits "
            "may change the meaning, so someone has to read them.  Use the studio "
            "(labeler 'studio', people) or an LLM judge ('llm-judge:URL#MODEL') for it, or a "
            f"recipe that keeps the label by construction ({keeping})"
        )
