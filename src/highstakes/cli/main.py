"""Entry point of the `highstakes` command.  Heavy imports stay inside commands so that
`--help` starts fast and each command loads only what it uses."""

from __future__ import annotations

import inspect
import logging
import os
import warnings

import typer

from highstakes.cli import (
    attack,
    calibrate,
    data,
    evaluate,
    generate,
    head,
    loop,
    score,
    studio,
    train,
)

app = typer.Typer(
    name="highstakes",
    help="Adversarial training for safety classifiers that must be reliable in the worst case.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(data.app, name="data")
app.command("train")(train.train_command)
app.command("demo")(loop.demo_command)
app.command("loop")(loop.loop_command)
app.command("score")(score.score_command)
app.command("attack")(attack.attack_command)
app.command("generate")(generate.generate_command)
app.add_typer(head.app, name="head")
app.command("calibrate")(calibrate.calibrate_command)
app.command("evaluate")(evaluate.evaluate_command)
app.add_typer(studio.app, name="studio")


def flowing_help(group: typer.Typer) -> None:
    """Each command's help as flowing paragraphs, the first of them its line in command
    lists: Typer's rich help keeps a docstring's line breaks, which leaves ragged
    half-lines wherever the terminal is not as wide as the source."""
    for info in group.registered_commands:
        doc = info.callback.__doc__ if info.callback is not None else None
        if not doc:
            continue
        paragraphs = [" ".join(p.split()) for p in inspect.cleandoc(doc).split("\n\n")]
        if info.help is None:
            info.help = "\n\n".join(paragraphs)
        if info.short_help is None:
            info.short_help = paragraphs[0]
    for sub in group.registered_groups:
        if sub.typer_instance is not None:
            flowing_help(sub.typer_instance)


flowing_help(app)


@app.callback()
def main(
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log progress details."),
) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # Keep transformers' own load reports and bars out of our progress display; must be set
    # before transformers is imported (commands import it lazily).
    if not verbose:
        # library notices meant for their developers, not for our users (transformers'
        # deprecations)
        warnings.filterwarnings("ignore", category=FutureWarning, module="transformers")
        os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        # libraries' own tqdm bars (transformers' GGUF loading draws one): ours are rich's
        os.environ.setdefault("TQDM_DISABLE", "1")


if __name__ == "__main__":  # `python -m highstakes.cli.main`, e.g. under `accelerate launch`
    app()
