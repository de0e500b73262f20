"""Menus on the studio's tool thread: live clicks before prefetches, a prefetch for a new
text dropping what is left of the old one, and the saliency request that starts it."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest

from highstakes.data.records import Snippet
from highstakes.studio.services.scoring import BACKGROUND, ScoringService, Tools
from tests.studio.conftest import Studio

PROMPT = "Ann walked to the shed. It was late. She lit a lamp."
COMPLETION = "The lamp fell and burned her hand badly."


class _RecordingMenu:
    """Records which menus were built, each in two steps; the first one waits for `gate`
    in its first step.  Kept menus are served from `kept`."""

    def __init__(self) -> None:
        self.built: list[tuple[str, int]] = []
        self.steps: list[tuple[str, int, int]] = []
        self.kept: dict[tuple[str, int], list] = {}
        self.gate = threading.Event()
        self.step_seconds = 0.0

    @staticmethod
    def key(snippet: Snippet, field: str, index: int, kind: str = "replace") -> tuple:
        return (snippet.completion, field, index, kind)

    def peek(self, snippet: Snippet, field: str, index: int, kind: str = "replace") -> Any:
        return self.kept.get((snippet.completion, index))

    cached = peek

    def menu_steps(self, snippet: Snippet, field: str, index: int, kind: str = "replace") -> Any:
        for step in range(2):
            if not self.steps:
                self.gate.wait(10)
            time.sleep(self.step_seconds)
            self.steps.append((snippet.completion, index, step))
            if step == 0:
                yield
        self.built.append((snippet.completion, index))
        items = [f"{snippet.completion}:{index}"]
        self.kept[(snippet.completion, index)] = items
        return items


async def _after_the_queue(service: ScoringService) -> None:
    """Wait until every job queued so far, background prefetches included, has run."""
    await asyncio.wrap_future(service._tool_worker.submit(lambda: None, BACKGROUND + 1).future)


def test_clicks_go_before_prefetches_and_new_text_drops_old_prefetches() -> None:
    menu = _RecordingMenu()
    tools = Tools(1, "v1", 0.5, lambda s: [0.5] * len(s), menu)

    async def run() -> None:
        service = ScoringService(tools, prefetch_words=3, background_words=4)
        await service.start()
        old, new = Snippet(PROMPT, "old text"), Snippet(PROMPT, "new text")
        service.prefetch_menus("ann", old, [("completion", i) for i in range(5)])
        await asyncio.sleep(0.2)  # the first prefetch is running, held at the gate
        service.prefetch_menus("ann", new, [("completion", i) for i in (7, 8, 1, 2, 3)])
        click = asyncio.create_task(service.menu(new, "completion", 9))
        await asyncio.sleep(0.1)
        menu.gate.set()
        assert (await click)[0] == ["new text:9"]
        await _after_the_queue(service)
        await service.stop()

    asyncio.run(run())
    # the click goes right after the running prefetch's first step; that prefetch is then
    # dropped halfway (its text is gone), like the old text's others; the new text's three
    # most salient words follow, then one more in the background (background_words=4)
    assert menu.steps[:3] == [("old text", 0, 0), ("new text", 9, 0), ("new text", 9, 1)]
    assert menu.built == [("new text", i) for i in (9, 7, 8, 1, 2)]


def test_a_click_takes_over_the_menu_being_computed_ahead_and_waits_one_step() -> None:
    menu = _RecordingMenu()
    menu.gate.set()
    menu.step_seconds = 0.2
    tools = Tools(1, "v1", 0.5, lambda s: [0.5] * len(s), menu)
    text = Snippet(PROMPT, COMPLETION)

    async def run() -> tuple[list, list]:
        service = ScoringService(tools, prefetch_words=1)
        await service.start()
        service.prefetch_menus("ann", text, [("completion", i) for i in range(4)])
        await asyncio.sleep(0.1)  # word 0's first step is running
        same = await service.menu(text, "completion", 0)  # its menu: taken over
        await asyncio.sleep(0.1)  # word 1's first step (a background one) is running
        other = await service.menu(text, "completion", 3)  # waits for that step only
        await _after_the_queue(service)
        await service.stop()
        return [same[0], other[0]], service.click_waits_ms()

    answers, waits = asyncio.run(run())
    assert answers == [[f"{COMPLETION}:0"], [f"{COMPLETION}:3"]]
    # word 1 was paused after its first step for the click on word 3, and went on after it
    order = [(0, 0), (0, 1), (1, 0), (3, 0), (3, 1), (1, 1), (2, 0), (2, 1)]
    assert menu.steps == [(COMPLETION, i, step) for i, step in order]  # each built once
    # the click on word 3 came about 0.1 s into a 0.2 s step: it waited for the rest of
    # that step, not for the other step of word 1 nor for word 2
    assert len(waits) == 2 and waits[1] < 0.2 * 1000 + 100 and waits[1] > 50


class _TorchMenu:
    """Menus whose second step runs a small torch module 100 times, 5 ms apart (0.5 s)."""

    def __init__(self) -> None:
        import torch

        self.layer = torch.nn.Linear(4, 4)
        self.started: list[int] = []
        self.built: list[int] = []

    @staticmethod
    def key(snippet: Snippet, field: str, index: int, kind: str = "replace") -> tuple:
        return (snippet.completion, field, index, kind)

    def peek(self, snippet: Snippet, field: str, index: int, kind: str = "replace") -> Any:
        return None

    cached = peek

    def menu_steps(self, snippet: Snippet, field: str, index: int, kind: str = "replace") -> Any:
        import torch

        self.started.append(index)
        yield
        for _ in range(100):
            self.layer(torch.ones(1, 4))
            time.sleep(0.005)
        self.built.append(index)
        return [index]


def test_a_click_preempts_the_step_in_flight_which_is_done_again_later() -> None:
    menu = _TorchMenu()
    tools = Tools(1, "v1", 0.5, lambda s: [0.5] * len(s), menu)
    text = Snippet(PROMPT, COMPLETION)

    async def run() -> tuple[list, list, int]:
        service = ScoringService(tools, prefetch_words=2)
        await service.start()
        service.prefetch_menus("ann", text, [("completion", 0), ("completion", 1)])
        await asyncio.sleep(0.2)  # word 0's torch step is running, 0.3 s from its end
        answer, _ = await service.menu(text, "completion", 5)
        await _after_the_queue(service)
        await service.stop()
        return answer, service.click_waits_ms(), service._tool_worker.n_preempted

    answer, waits, n_preempted = asyncio.run(run())
    assert answer == [5]
    assert waits[0] < 100  # a module call or so, not the 0.3 s left of the step
    assert n_preempted == 1
    assert menu.started == [0, 5, 0, 1]  # word 0's menu started again after the click
    assert menu.built == [5, 0, 1]


def test_the_tool_thread_uses_its_own_torch_threads() -> None:
    import torch

    service = ScoringService(Tools(1, "v1", 0.5, lambda s: [0.5] * len(s)), tool_threads=1)
    inside = service._tool_worker.submit(torch.get_num_threads, 0).future.result(10)
    service._tool_worker.shutdown()
    assert inside == 1 and torch.get_num_threads() >= 1


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_saliency_prefetches_the_menus_of_the_most_salient_words(studio: Studio) -> None:
    attacker = studio.actor("attacker")
    body = {"prompt": PROMPT, "completion": COMPLETION}
    words = attacker.call("POST", "/api/saliency", json=body).json()["words"]
    top = max((w for w in words if w["text"].isalpha()), key=lambda w: w["saliency"])
    service: Any = studio.client.app.state.scoring  # type: ignore[attr-defined]
    menu = service.tools.menu
    snippet = Snippet(PROMPT, COMPLETION)
    deadline = time.monotonic() + 30
    while menu.peek(snippet, top["field"], top["index"]) is None:
        assert time.monotonic() < deadline, "the most salient word's menu was not prefetched"
        time.sleep(0.05)
    hits = menu.hits
    answer = attacker.call(
        "POST", "/api/menu", json={**body, "field": top["field"], "index": top["index"]}
    ).json()
    assert menu.hits == hits + 1  # served from the cache
    assert answer["items"] and all("fluent" in i and "fluency" in i for i in answer["items"])
