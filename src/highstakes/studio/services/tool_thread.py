"""The studio's tool thread: one thread that runs menus and saliency for every attacker,
clicks first.

A job is a function, or a generator of steps (a menu: `SubstitutionMenu.menu_steps`)
that may pause between its steps.  The thread runs the job with the lowest priority
number, first come first served within a priority; after each step of a job it looks at
the queue, and if a job of a better priority waits (a click, while it computes a menu
ahead of clicks), it puts the paused job back and runs that one.  A click need not wait
for the step in flight either: a step of a menu computed ahead is pre-empted at the next
torch module it enters (a layer of the LM or of the classifier), and that step is done
again later (the menu restarts; its first step, the proposals, is cheap and the LM's
reading of the text is kept).  So a click waits for a few milliseconds of one job in
flight, never for a whole step, a menu or a queue of them; `live_waits` records how
long each click did wait.

A job computed ahead of a click can be `promote`d when the click comes: it goes on at
the click's priority from where it is, so no menu is computed twice.  A job that is no
longer wanted (`wanted`: the attacker's text has changed) is dropped when its turn
comes, even between two of its steps, unless a click has promoted it.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections import deque
from collections.abc import Callable, Generator
from concurrent.futures import CancelledError, Future
from typing import Any

LIVE, PREFETCH, BACKGROUND = 0, 1, 2  # lower runs first: clicks, salient words, the rest

Steps = Generator[None, None, Any]


class Preempted(BaseException):
    """Raised in the tool thread's torch modules to stop a step for a better job; a
    BaseException, so that no `except Exception` on the way swallows it."""


class ToolJob:
    """One job and its result (`future`)."""

    def __init__(
        self,
        fn: Callable[[], Any] | None,
        make_steps: Callable[[], Steps] | None,
        priority: int,
        order: int,
        wanted: Callable[[], bool] | None,
    ) -> None:
        self.fn = fn
        self.make_steps = make_steps  # a generator of steps, made again after a pre-emption
        self.steps = make_steps() if make_steps is not None else None
        self.priority = priority
        self.order = order  # first come, first served within a priority
        self.future: Future[Any] = Future()
        self.wanted_by = [] if wanted is None else [wanted]  # any of them: still wanted
        self.live_since = time.perf_counter() if priority == LIVE else None
        self.wait_recorded = False
        self.started = False
        self.entry = 0  # the job's current queue entry; earlier ones are skipped

    def wanted(self) -> bool:
        return self.priority == LIVE or not self.wanted_by or any(w() for w in self.wanted_by)

    def step(self) -> tuple[bool, Any]:
        """Run one step: (done, result)."""
        if self.steps is None:
            assert self.fn is not None
            return True, self.fn()
        try:
            next(self.steps)
        except StopIteration as finished:
            return True, finished.value
        return False, None


class ToolWorker:
    """The thread (see the module notes).  Its torch ops run on `threads` cores (torch's
    setting is per thread).  One by default: beside the score thread, or a training job,
    two OpenMP threads wait at every op's barrier for a core the other work holds; on 2
    busy cores a menu took 9.9 s median with two threads and 0.5 s with one (the numbers
    in benchmarks/attack.py's notes).  Nor do two help on an idle machine: bf16 matmuls
    started from a thread other than the main one did not use the second core (a
    64x576 @ 576x1536 product: 0.25 ms with two threads, 0.22 ms with one, 0.14 ms with
    two from the main thread; torch 2.13, oneDNN 3.12, Intel Xeon), and the menu's
    any-word p95 went from 491 to 445 ms only."""

    def __init__(self, threads: int = 1) -> None:
        self.threads = threads
        self.live_waits: deque[float] = deque(maxlen=10_000)  # seconds, click to its turn
        self.n_preempted = 0  # steps stopped halfway for a better job
        self._heap: list[tuple[int, int, int, ToolJob | None]] = []
        self._cond = threading.Condition()
        self._order = itertools.count()
        self._running: ToolJob | None = None
        self._preempt = False  # set when a better job arrives while a menu step runs
        self._thread = threading.Thread(target=self._run, name="menu", daemon=True)
        self._thread.start()
        from torch.nn.modules.module import register_module_forward_pre_hook

        # every module's forward, in every thread: the check is one attribute read unless
        # a pre-emption is due (about 1,000 calls per LM batch)
        self._hook = register_module_forward_pre_hook(self._check_preempt)

    def submit(
        self,
        fn: Callable[[], Any] | None,
        priority: int,
        make_steps: Callable[[], Steps] | None = None,
        wanted: Callable[[], bool] | None = None,
    ) -> ToolJob:
        """Queue `fn()`, or the steps of the generator `make_steps()` (which may be
        pre-empted and made again); `wanted`: see the module notes."""
        job = ToolJob(fn, make_steps, priority, next(self._order), wanted)
        with self._cond:
            self._put(job)
        return job

    def promote(self, job: ToolJob, priority: int) -> bool:
        """Run `job` at `priority` from now on if that is better than its own; False when
        it has finished or was dropped (submit a new one)."""
        with self._cond:
            if job.future.done():
                return False
            if priority < job.priority:
                job.priority = priority
                if priority == LIVE:
                    job.live_since = time.perf_counter()
                if self._running is not job:  # a running job goes on at its new priority
                    self._put(job)
            return True

    def pending(self) -> int:
        with self._cond:
            return sum(1 for _, _, entry, job in self._heap if job and entry == job.entry)

    def shutdown(self) -> None:
        with self._cond:
            heapq.heappush(self._heap, (-1, -1, 0, None))  # before anything still queued
            self._cond.notify()
        self._thread.join(timeout=30)
        self._hook.remove()

    def _put(self, job: ToolJob) -> None:
        job.entry += 1
        heapq.heappush(self._heap, (job.priority, job.order, job.entry, job))
        running = self._running
        if (
            running is not None
            and running is not job
            and running.make_steps is not None
            and job.priority < running.priority
        ):
            self._preempt = True
        self._cond.notify()

    def _check_preempt(self, module: Any, args: Any) -> None:
        if self._preempt and threading.get_ident() == self._thread.ident:
            self._preempt = False
            raise Preempted

    def _next(self) -> ToolJob | None:
        """The next job to run, waiting for one; None at shutdown."""
        while True:
            while not self._heap:
                self._cond.wait()
            _, _, entry, job = heapq.heappop(self._heap)
            if job is None:
                return None
            if entry != job.entry or job.future.done():
                continue  # promoted since (a newer entry), or finished
            if not job.wanted():
                _drop(job)
                continue
            return job

    def _better_waiting(self, job: ToolJob) -> bool:
        return any(
            entry == queued.entry and priority < job.priority
            for priority, _, entry, queued in self._heap
            if queued is not None
        ) or bool(self._heap and self._heap[0][3] is None)

    def _run(self) -> None:
        import torch

        torch.set_num_threads(self.threads)
        job: ToolJob | None = None
        while True:
            with self._cond:
                if job is not None and not job.wanted():
                    _drop(job)
                    job = None
                if job is not None and self._better_waiting(job):
                    self._put(job)  # paused: it goes on after the better ones
                    job = None
                if job is None:
                    job = self._next()
                    if job is None:
                        return
                    if not job.started and not job.future.set_running_or_notify_cancel():
                        job = None
                        continue
                    job.started = True
                if job.live_since is not None and not job.wait_recorded:
                    self.live_waits.append(time.perf_counter() - job.live_since)
                    job.wait_recorded = True
                self._running, self._preempt = job, False
            try:
                done, result = job.step()
            except Preempted:
                with self._cond:
                    self._running = None
                    assert job.make_steps is not None
                    job.steps = job.make_steps()  # from the start: its state was lost
                    self.n_preempted += 1
                    self._put(job)
                job = None
                continue
            except BaseException as exc:  # the caller sees it; the thread goes on
                with self._cond:
                    self._running = None
                job.future.set_exception(exc)
                job = None
                continue
            with self._cond:
                self._running = None
            if done:
                job.future.set_result(result)
                job = None


def _drop(job: ToolJob) -> None:
    """Give up a job nobody wants any more: its future fails with CancelledError."""
    if job.steps is not None:
        job.steps.close()
    if not job.future.cancel():  # already running: cancel() does not apply
        job.future.set_exception(CancelledError())
