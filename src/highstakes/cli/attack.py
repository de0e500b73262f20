"""`highstakes attack`."""

from __future__ import annotations

import json
import math
from pathlib import Path

import typer
from rich.table import Table

from highstakes.cli.errors import user_errors
from highstakes.cli.progress import console, progress_bar
from highstakes.files import write_atomic


def attack_command(
    model: Path = typer.Option(..., "--model", help="Trained classifier folder to attack."),
    recipe: str = typer.Option(
        "typos",
        help="typos or rewording (keep the label by construction), substitution or paraphrase "
        "(may change the meaning).",
    ),
    data: str = typer.Option("demo", "--data", help="'demo' (its test split) or a data file."),
    n: int = typer.Option(20, "--n", min=1, help="How many injurious snippets to attack."),
    out: Path = typer.Option(..., "--out", help="JSONL file for the results (label unsure)."),
    budget: int = typer.Option(200, min=1, help="Classifier queries allowed per snippet."),
    threshold: float = typer.Option(
        None,
        min=0.0,
        max=1.0,
        help="Success means a score below this; default: the model's threshold.",
    ),
    paraphraser_url: str = typer.Option(
        None, help="OpenAI-compatible endpoint for paraphrases (default: embedded SmolLM2)."
    ),
    paraphraser_model: str = typer.Option("default", help="Model name at that endpoint."),
    confirm_with: str = typer.Option(
        "human", help="Who must confirm the results: human, llm-judge or reference-classifier."
    ),
    round_: int = typer.Option(0, "--round", min=0, help="Round number stored on results."),
    generator: str = typer.Option(
        "embedded-smollm2", help="Causal LM for word proposals, fluency and paraphrases."
    ),
    encoder_model: str = typer.Option(
        "embedded-minilm", "--encoder", help="Sentence encoder for the similarity floor."
    ),
    seed: int = typer.Option(0, help="Seed for which snippets are chosen and for sampling."),
    together: int = typer.Option(
        16,
        min=1,
        help="Snippets searched side by side, their queries scored in one batch a step "
        "(typos, rewording, substitution); 1: one at a time.",
    ),
) -> None:
    """Attack the injurious snippets that MODEL flags correctly and report what got through.

    Successful results are written to OUT as examples labeled 'unsure', each naming the
    labeler that must confirm it is still injurious before it may be used for training.
    OUT.attempts.jsonl has every target's queries, the failed searches' included, for an
    exact cost per success once the results are confirmed (`evaluate --attempts`);
    OUT.metrics.json has the summary printed.
    """
    import random

    import torch

    from highstakes.attacks import recipes
    from highstakes.attacks.constraints.similarity import SentenceEncoder
    from highstakes.attacks.paraphrase import EndpointParaphraser
    from highstakes.attacks.run import (
        PENDING_LABELERS,
        attack_examples,
        attack_metrics,
        attempt_records,
        result_examples,
    )
    from highstakes.data.demo import load_dataset
    from highstakes.data.io import write_examples
    from highstakes.data.records import Label
    from highstakes.data.splits import assign_splits
    from highstakes.loop.project import version_name
    from highstakes.models.classifier import Classifier
    from highstakes.models.generator import CausalLM

    with user_errors():
        if recipe not in recipes.RECIPES:
            raise ValueError(f"unknown recipe {recipe!r}; choose {', '.join(recipes.RECIPES)}")
        if confirm_with not in PENDING_LABELERS:  # checked before the attack, not after it
            raise ValueError(
                f"--confirm-with {confirm_with!r}: choose {', '.join(PENDING_LABELERS)} (the "
                "loop's 'kept' labeler applies to its own label-keeping recipes, not here)"
            )
        torch.manual_seed(seed)
        clf = Classifier.from_pretrained(model)
        limit = clf.threshold if threshold is None else threshold
        examples = load_dataset(data)
        if data == "demo":
            examples = assign_splits(examples)["test"]
        injurious = [e for e in examples if e.label is Label.YES]
        flagged = [
            e
            for e, s in zip(injurious, clf.score([e.snippet for e in injurious]), strict=True)
            if s >= limit
        ]
        random.Random(seed).shuffle(flagged)
        targets = flagged[:n]
        if not targets:
            raise ValueError("no injurious snippet in the data is flagged by this model")
        console.print(
            f"attacking {len(targets)} of {len(flagged)} correctly flagged injurious "
            f"snippets (threshold {limit:.4g}, budget {budget} queries each)"
        )
        lm, encoder = CausalLM.from_pretrained(generator), SentenceEncoder(encoder_model)
        paraphraser = (
            EndpointParaphraser(paraphraser_url, paraphraser_model) if paraphraser_url else None
        )
        attack = recipes.build(recipe, clf, lm=lm, encoder=encoder, paraphraser=paraphraser)
        with progress_bar() as update:
            records = attack_examples(attack, clf, targets, limit, budget, update, together)
        version = version_name(model, clf.metadata)  # as evaluate names it
        results = result_examples(records, recipe, version, round_, confirm_with)
        write_examples(out, results)
        attempts = attempt_records(records, recipe, version)
        metrics = attack_metrics(records, lm, encoder)
    lines = "".join(json.dumps(a) + "\n" for a in attempts)
    write_atomic(Path(str(out) + ".attempts.jsonl"), lines)
    Path(str(out) + ".metrics.json").write_text(json.dumps(metrics, indent=2))
    _print_summary(metrics, out, confirm_with, recipes.PRESERVES_LABEL[recipe])


def _print_summary(
    metrics: dict[str, float | int], out: Path, labeler: str, preserves_label: bool
) -> None:
    table = Table(title="attack summary")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key, value in metrics.items():
        text = f"{value:.4g}" if isinstance(value, float) and math.isfinite(value) else str(value)
        table.add_row(key.replace("_", " "), text)
    console.print(table)
    console.print(
        f"results in {out} (label 'unsure'): a {labeler} labeler must confirm each "
        "is still injurious before it is used for training"
        + (
            "; this recipe keeps the label by construction, so the loop's 'kept' labeler may "
            "label its results (audits: docs/audits/)"
            if preserves_label
            else "; this recipe may change the meaning: someone has to read each result"
        )
    )
