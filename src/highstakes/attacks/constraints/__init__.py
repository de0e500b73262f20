"""Constraints that keep an attack's edits close to the original snippet."""

from highstakes.attacks.constraints.basic import MaxWordsChanged, StopwordsProtected
from highstakes.attacks.constraints.fluency import FluencyDrop
from highstakes.attacks.constraints.grammar import Grammaticality
from highstakes.attacks.constraints.pos import PartOfSpeechAgreement
from highstakes.attacks.constraints.similarity import SentenceSimilarity

__all__ = [
    "FluencyDrop",
    "Grammaticality",
    "MaxWordsChanged",
    "PartOfSpeechAgreement",
    "SentenceSimilarity",
    "StopwordsProtected",
]
