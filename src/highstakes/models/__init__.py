"""Classifier and generator wrappers, and where the embedded default models live."""
