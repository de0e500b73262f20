"""Progress that library code can drive through a plain callback: rich bars on a
terminal, one plain line per phase in a log."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

# markup off: paths, names and messages print as written ("[test] split.jsonl"); the
# few lines that style themselves pass markup=True and escape what they interpolate
console = Console(stderr=True, markup=False)
if not console.is_terminal and "COLUMNS" not in os.environ:
    console.width = 160  # a log is read in an editor: let tables keep their columns
UpdateFn = Callable[[str, int, int], None]


@contextmanager
def progress_bar() -> Iterator[UpdateFn]:
    """Yield `update(phase, done, total)`; each new phase gets its own bar on a terminal,
    or, when the output is a file or a pipe, one line when the phase finishes."""
    if not console.is_terminal:
        yield _line_per_phase()
        return
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=False,
    ) as progress:
        tasks: dict[str, TaskID] = {}

        def update(phase: str, done: int, total: int) -> None:
            if phase not in tasks:
                tasks[phase] = progress.add_task(phase, total=total)
            progress.update(tasks[phase], completed=done, total=total)

        yield update


def batch_counter(update: UpdateFn, phase: str, total: int) -> Callable[[int], None]:
    """An `on_batch(n)` callback (as `Classifier.score` takes) that adds up the items
    done and reports them to `update` under `phase`."""
    done = 0

    def on_batch(n: int) -> None:
        nonlocal done
        done += n
        update(phase, done, total)

    return on_batch


def _line_per_phase() -> UpdateFn:
    """A log sees each phase once, when it is done (with its count and duration), so a
    newcomer reading `make demo > log` knows where the run is without bars' noise."""
    started: dict[str, float] = {}
    finished: set[str] = set()

    def update(phase: str, done: int, total: int) -> None:
        now = time.perf_counter()
        started.setdefault(phase, now)
        if done >= total and phase not in finished:
            finished.add(phase)
            stamp = time.strftime("%H:%M:%S")
            took = now - started[phase]
            count = "" if total <= 1 else f" {done}/{total}"
            duration = f" ({took:.0f} s)" if took >= 0.5 else ""  # not for one-off notes
            console.print(f"{stamp} {phase}{count}{duration}", highlight=False, soft_wrap=True)

    return update
