"""The adversarial training loop: train -> calibrate -> evaluate -> attack -> label ->
retrain, round after round, resumable, with every artifact versioned per round."""
