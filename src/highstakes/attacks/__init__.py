"""Attacks on a classifier, built from four kinds of parts (after TextAttack):
a transformation proposes candidate edits, constraints reject bad ones, a search method
chooses among the rest, and a goal says when the attack has succeeded."""
