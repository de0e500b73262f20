"""The studio: the web application where people attack, label and rate."""
