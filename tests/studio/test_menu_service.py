"""Menus on the studio's tool thread: live clicks before prefetches, a prefetch for a new
text dropping what is left of the old one, and the saliency request that starts it."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest

from highstakes.data.records import Snippet
from highstakes.studio.services.scoring import PREFETCH, ScoringService, Tools
from tests.studio.conftest import Studio

PROMPT = "Ann walked to the shed. It was late. She lit a lamp."
COMPLETION = "The lamp fell and burned her hand badly."


class _RecordingMenu:
    """Records which menus were built; the first one waits for `gate`."""

    def __init__(self) -> None:
        self.built: list[tuple[str, int]] = []
        self.gate = threading.Event()

    def menu(self, snippet: Snippet, field: str, index: int, kind: str = "replace") -> list:
        if not self.built:
            self.gate.wait(10)
        self.built.append((snippet.completion, index))
        return []


def test_clicks_go_before_prefetches_and_new_text_drops_old_prefetches() -> None:
    menu = _RecordingMenu()
    tools = Tools(1, "v1", 0.5, lambda s: [0.5] * len(s), menu)

    async def run() -> None:
        service = ScoringService(tools, prefetch_words=3)
        await service.start()
        old, new = Snippet(PROMPT, "old text"), Snippet(PROMPT, "new text")
        service.prefetch_menus("ann", old, [("completion", i) for i in range(5)])
        await asyncio.sleep(0.2)  # the first prefetch is running, held at the gate
        service.prefetch_menus("ann", new, [("completion", 7), ("completion", 8)])
        click = asyncio.create_task(
            service.run_tool(lambda t: t.menu.menu(new, "completion", 9))  # type: ignore[union-attr]
        )
        await asyncio.sleep(0.1)
        menu.gate.set()
        await click
        done = service._tool_worker.submit(lambda: None, PREFETCH + 1)  # after the prefetches
        await asyncio.wrap_future(done)
        await service.stop()

    asyncio.run(run())
    # the running prefetch finishes; the click goes next; the old text's other prefetches
    # are dropped (and only the 3 most salient were asked for); the new text's follow
    assert menu.built == [("old text", 0), ("new text", 9), ("new text", 7), ("new text", 8)]


def test_the_tool_thread_uses_its_own_torch_threads() -> None:
    import torch

    service = ScoringService(Tools(1, "v1", 0.5, lambda s: [0.5] * len(s)), tool_threads=1)
    inside = service._tool_worker.submit(torch.get_num_threads, 0).result(10)
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
