"""Fine-tuning classifiers: the trainer and SiFT."""
