"""highstakes: adversarial training for worst-case reliable safety classifiers."""

__version__ = "0.1.0"
