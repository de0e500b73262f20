"""Progress that library code can drive through a plain callback: rich bars on a
terminal, one plain line per phase in a log."""

from __future__ import annotations

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

console = Console(stderr=True)
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
            console.print(f"{stamp} {phase}{count} ({took:.0f} s)", highlight=False, soft_wrap=True)

    return update
