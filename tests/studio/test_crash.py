"""Kill the server (SIGKILL) while attackers submit; after a restart and a retry of every
unanswered request with its idempotency key, each submission is stored exactly once and
every acknowledged one is there."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx
from sqlalchemy import select

from highstakes.store.db import make_engine, session_factory
from highstakes.store.tables import SnippetRow
from tests.studio.server import Server, prepare, sign_in

ATTACKERS = [f"attacker{i}" for i in range(4)]
PROMPT = "Ann walked to the shed. It was late. She lit a lamp."


IN_FLIGHT: set[str] = set()  # keys of submissions sent and not yet answered


def _work(url: str, name: str, sent: list[dict], stop: threading.Event, attempt: int) -> None:
    client = sign_in(url, name)
    n = 0
    try:
        while not stop.is_set():
            task = client.post("/api/tasks/write").json()
            request = {
                "task_id": task["task_id"],
                "key": f"{name}-{attempt}-{n:04d}-key",
                "body": {
                    "prompt": PROMPT,
                    "completion": f"{name} cut a finger, try {attempt}.{n}.",
                    "still_injurious": True,
                },
                "answer": None,
            }
            sent.append(request)
            IN_FLIGHT.add(request["key"])
            response = client.post(
                f"/api/tasks/{task['task_id']}/submit",
                json=request["body"],
                headers={"Idempotency-Key": request["key"]},
            )
            if response.status_code == 200:
                request["answer"] = response.json()
            IN_FLIGHT.discard(request["key"])
            n += 1
    except httpx.HTTPError:
        return  # the server died under us: this request has no answer


def _submit_then_kill(server: Server, sent: dict[str, list[dict]], attempt: int) -> None:
    """Attackers submit; once a dozen are answered, SIGKILL the server while one is out."""
    IN_FLIGHT.clear()
    stop = threading.Event()
    threads = [
        threading.Thread(target=_work, args=(server.url, n, sent[n], stop, attempt))
        for n in ATTACKERS
    ]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 60
    while sum(r["answer"] is not None for s in sent.values() for r in s) < 12 * (attempt + 1):
        assert time.monotonic() < deadline, "no submissions went through"
        time.sleep(0.05)
    while not IN_FLIGHT:
        time.sleep(0.001)
    server.kill()  # mid-request: a submission is on its way
    stop.set()
    for t in threads:
        t.join(30)


def test_killed_server_loses_and_duplicates_nothing(
    database_url: str, studio_model: Path, tmp_path: Path
) -> None:
    url_db = database_url
    IN_FLIGHT.clear()
    users = {"admin": "admin", **dict.fromkeys(ATTACKERS, "attacker")}
    data = prepare(tmp_path, url_db, users)
    server = Server(url_db, studio_model, data, tmp_path / "server.log")
    server.start()
    admin = sign_in(server.url, "admin")
    assert admin.post("/api/admin/settings", json={"target_threshold": 0.99}).status_code == 204
    sent: dict[str, list[dict]] = {name: [] for name in ATTACKERS}
    for attempt in range(5):  # a kill can land between requests; then try again
        _submit_then_kill(server, sent, attempt)
        requests = [r for s in sent.values() for r in s]
        if any(r["answer"] is None for r in requests):
            break
        server.start()
    acknowledged = {r["key"]: r["answer"] for r in requests if r["answer"] is not None}
    assert any(r["answer"] is None for r in requests), "no kill landed mid-request"

    server.start()
    for name in ATTACKERS:  # each attacker retries what got no answer, with the same key
        client = sign_in(server.url, name)
        for r in (r for r in sent[name] if r["answer"] is None):
            retry = client.post(
                f"/api/tasks/{r['task_id']}/submit",
                json=r["body"],
                headers={"Idempotency-Key": r["key"]},
            )
            assert retry.status_code == 200, retry.text
            r["answer"] = retry.json()
        client.close()
    server.stop()

    engine = make_engine(url_db)
    with session_factory(engine)() as session:
        rows = list(session.scalars(select(SnippetRow).where(SnippetRow.source == "human-attack")))
    engine.dispose()
    texts = [row.completion for row in rows]
    assert len(texts) == len(set(texts)) == len(requests)  # none lost, none twice
    stored = {row.id: row.completion for row in rows}
    for r in requests:
        assert stored[r["answer"]["snippet_id"]] == r["body"]["completion"]
    for key, answer in acknowledged.items():  # acknowledged answers did not change
        assert next(r for r in requests if r["key"] == key)["answer"] == answer
