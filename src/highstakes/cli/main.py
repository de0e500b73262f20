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


def one_line_listings(group: typer.Typer) -> None:
    """In a command list, show each command's first paragraph as one flowing line: Typer's
    rich help keeps a docstring's line breaks there, which leaves ragged half-lines."""
    for info in group.registered_commands:
        if info.short_help is None and info.callback is not None and info.callback.__doc__:
            first = inspect.cleandoc(info.callback.__doc__).split("\n\n")[0]
            info.short_help = " ".join(first.split())
    for sub in group.registered_groups:
        if sub.typer_instance is not None:
            one_line_listings(sub.typer_instance)


one_line_listings(app)


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
