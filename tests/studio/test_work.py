"""The studio's work flows through the API: rewrite and submit, label, rate, dashboard,
export, idempotent retries, bad input, classifier swaps and micro-batching."""

from __future__ import annotations

import asyncio
import io
import json

import pyarrow.parquet as pq

from highstakes.data.records import Snippet
from highstakes.studio.services.scoring import ScoringService, Tools
from tests.studio.conftest import Studio

PROMPT = "Ann walked to the shed. It was late. She lit a lamp."


def _submit(studio: Studio, name: str = "attacker", key: str | None = "key-00000001") -> dict:
    attacker = studio.actor(name)
    task = attacker.call("POST", "/api/tasks/rewrite").json()
    body = {
        "prompt": task["prompt"],
        "completion": task["completion"] + " Then she wept.",
        "still_injurious": True,
        "active_ms": 30_000,
    }
    headers = {"Idempotency-Key": key} if key else {}
    response = attacker.call(
        "POST", f"/api/tasks/{task['task_id']}/submit", json=body, headers=headers
    )
    assert response.status_code == 200, response.text
    return response.json()


def test_submission_is_labeled_by_others_and_counted(studio: Studio) -> None:
    done = _submit(studio)
    assert done["status"] == "submitted" and done["score"] < 0.99
    # the author's own queue does not hold it; labelers see it until enough labels exist
    labeler, labeler2 = studio.actor("labeler"), studio.actor("labeler2")
    item = labeler.call("GET", "/api/labels/next").json()
    assert item["snippet_id"] == done["snippet_id"]
    first = labeler.call(
        "POST", "/api/labels", json={"snippet_id": item["snippet_id"], "label": "yes"}
    )
    assert first.json()["label_status"] == "pending"
    again = labeler.call(
        "POST", "/api/labels", json={"snippet_id": item["snippet_id"], "label": "no"}
    )
    assert again.status_code == 400 and "already" in again.json()["detail"]
    assert labeler.call("GET", "/api/labels/next").status_code == 204
    second = labeler2.call(
        "POST", "/api/labels", json={"snippet_id": item["snippet_id"], "label": "yes"}
    )
    assert second.json()["label_status"] == "agreed"
    figures = studio.admin.call("GET", "/api/admin/dashboard").json()
    row = next(c for c in figures["counts"] if c["source"] == "tool-assisted")
    assert row["agreed"] == 1
    cost = next(r for r in figures["attack_cost"]["by_attacker"] if r["attacker"] == "attacker")
    assert cost["successes"] == 1 and 0 < cost["minutes_per_success"] <= 0.5 + 1e-9
    low, high = cost["minutes_per_success_interval"]  # one task: no spread to resample
    assert low == high == cost["minutes_per_success"]
    assert figures["label_agreement"]["agreement_rate"] == 1.0
    exported = studio.admin.call("GET", "/api/admin/export?what=examples&format=jsonl").text
    rows = [json.loads(line) for line in exported.splitlines()]
    mine = [r for r in rows if r["source"] == "tool-assisted"]
    assert len(mine) == 1 and mine[0]["label"] == "yes" and mine[0]["author"] == "attacker"
    assert sorted(mine[0]["labelers"]) == ["labeler", "labeler2"]
    assert len(rows) == 48 + 1  # the imported examples and the agreed submission
    parquet = studio.admin.call("GET", "/api/admin/export?what=examples&format=parquet").content
    assert pq.read_table(io.BytesIO(parquet)).num_rows == 49


def test_disagreement_goes_to_the_admin(studio: Studio) -> None:
    done = _submit(studio)
    sid = done["snippet_id"]
    studio.actor("labeler").call("POST", "/api/labels", json={"snippet_id": sid, "label": "yes"})
    studio.actor("labeler2").call("POST", "/api/labels", json={"snippet_id": sid, "label": "no"})
    disputed = studio.admin.call("GET", "/api/admin/dashboard").json()["disputed"]
    assert [d["snippet_id"] for d in disputed] == [sid]
    assert sorted(disputed[0]["labels"]) == ["no", "yes"]
    resolved = studio.admin.call(
        "POST", "/api/admin/resolve", json={"snippet_id": sid, "label": "no"}
    )
    assert resolved.json()["label_status"] == "resolved"
    figures = studio.admin.call("GET", "/api/admin/dashboard").json()
    assert figures["disputed"] == [] and figures["label_agreement"]["agreement_rate"] == 0.0


def test_retried_submission_is_stored_once(studio: Studio) -> None:
    attacker = studio.actor("attacker")
    task = attacker.call("POST", "/api/tasks/write").json()
    body = {
        "prompt": PROMPT,
        "completion": "She burned her hand on the lamp.",
        "still_injurious": True,
    }
    url = f"/api/tasks/{task['task_id']}/submit"
    key = {"Idempotency-Key": "retry-key-1234"}
    first = attacker.call("POST", url, json=body, headers=key)
    second = attacker.call("POST", url, json=body, headers=key)
    assert first.status_code == second.status_code == 200
    assert first.json() == second.json()
    # without the key a second submit of a finished task is refused, not duplicated
    third = attacker.call("POST", url, json=body)
    assert third.status_code == 400 and "already submitted" in third.json()["detail"]
    counts = studio.admin.call("GET", "/api/admin/dashboard").json()["counts"]
    assert next(c for c in counts if c["source"] == "human-attack")["n"] == 1


def test_submit_rules(studio: Studio) -> None:
    attacker = studio.actor("attacker")
    task = attacker.call("POST", "/api/tasks/write").json()
    url = f"/api/tasks/{task['task_id']}/submit"
    body = {"prompt": PROMPT, "completion": "She burned her hand.", "still_injurious": False}
    unconfirmed = attacker.call("POST", url, json=body)
    assert unconfirmed.status_code == 400 and "still_injurious" in unconfirmed.json()["detail"]
    studio.admin.call("POST", "/api/admin/settings", json={"target_threshold": 1e-6})
    above = attacker.call("POST", url, json={**body, "still_injurious": True})
    assert above.status_code == 400 and "not below the target" in above.json()["detail"]
    assert attacker.call("POST", "/api/tasks/write").json()["task_id"] == task["task_id"]


def test_bad_input_gets_a_clear_4xx(studio: Studio) -> None:
    attacker = studio.actor("attacker")
    cases = [
        ({"prompt": PROMPT}, 422, "completion"),
        ({"prompt": PROMPT, "completion": ""}, 422, "completion"),
        ({"prompt": PROMPT, "completion": "x" * 2001}, 422, "completion"),
        ({"prompt": PROMPT, "completion": "ok.", "extra": 1}, 422, "extra"),
    ]
    for body, status, word in cases:
        response = attacker.call("POST", "/api/score", json=body)
        assert response.status_code == status and word in response.json()["detail"], body
    huge = attacker.call(
        "POST",
        "/api/score",
        content=b"{" + b" " * 70_000 + b"}",
        headers={"Content-Type": "application/json"},
    )
    assert huge.status_code == 413
    broken = attacker.call(
        "POST", "/api/score", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert broken.status_code == 422
    menu = attacker.call(
        "POST",
        "/api/menu",
        json={"prompt": PROMPT, "completion": "Ok.", "field": "completion", "index": 9},
    )
    assert menu.status_code == 400 and "index" in menu.json()["detail"]
    bad_key = attacker.call("POST", "/api/tasks/write", headers={"Idempotency-Key": "a b"})
    assert bad_key.status_code in (200, 400)  # the key is only read by writes that use it
    user = studio.admin.call(
        "POST",
        "/api/admin/users",
        json={"username": "x y", "password": "longenough", "role": "rater"},
    )
    assert user.status_code == 400 and "username" in user.json()["detail"]
    nul = studio.admin.call(
        "POST",
        "/api/admin/snippets",
        json={"prompt": PROMPT, "completion": "a\x00b", "source": "generator"},
    )
    assert nul.status_code == 400 and "NUL" in nul.json()["detail"]


def test_active_time_cannot_exceed_wall_time(studio: Studio) -> None:
    attacker = studio.actor("attacker")
    task = attacker.call("POST", "/api/tasks/write").json()
    attacker.call("POST", f"/api/tasks/{task['task_id']}/heartbeat", json={"active_ms": 3_000_000})
    attacker.call("POST", f"/api/tasks/{task['task_id']}/skip", json={"active_ms": 0})
    cost = studio.admin.call("GET", "/api/admin/dashboard").json()["attack_cost"]["by_attacker"]
    minutes = next(r for r in cost if r["attacker"] == "attacker")["active_minutes"]
    assert minutes < 1.0  # claimed 50 minutes within a second of wall time


def test_rating_is_stored_as_filtered_or_unfiltered(studio: Studio) -> None:
    pair = {
        "prompt": PROMPT,
        "filtered": "She sat down.",
        "unfiltered": "She fell.",
        "threshold": 0.01,
    }
    studio.admin.call("POST", "/api/admin/pairs", json=pair)
    rater = studio.actor("rater")
    shown = rater.call("GET", "/api/ratings/next").json()
    choice = "a" if shown["a"] == "She fell." else "b"
    key = {"Idempotency-Key": "rating-key-1"}
    for _ in range(2):
        ok = rater.call(
            "POST",
            "/api/ratings",
            json={"pair_id": shown["pair_id"], "choice": choice},
            headers=key,
        )
        assert ok.status_code == 200
    ratings = studio.admin.call("GET", "/api/admin/dashboard").json()["ratings"]
    assert ratings["ratings"] == 1 and ratings["prefer_unfiltered"] == 1
    export = studio.admin.call("GET", "/api/admin/export?what=ratings&format=jsonl").text
    assert json.loads(export)["preferred"] == "unfiltered"


def test_swapping_the_classifier_drops_no_request(studio_model) -> None:  # type: ignore[no-untyped-def]
    calls: list[int] = []

    def slow_score(tag: int):  # type: ignore[no-untyped-def]
        def score(snippets):  # type: ignore[no-untyped-def]
            calls.append(len(snippets))
            return [float(tag)] * len(snippets)

        return score

    async def run() -> tuple[list[float], int]:
        service = ScoringService(Tools(1, "v1", 0.5, slow_score(1)), max_batch=8, max_wait_ms=5)
        await service.start()
        snippet = Snippet(PROMPT, "She fell.")
        first = [asyncio.create_task(service.score(snippet)) for _ in range(20)]
        await asyncio.sleep(0)
        service.swap(Tools(2, "v2", 0.5, slow_score(2)))
        second = [asyncio.create_task(service.score(snippet)) for _ in range(20)]
        results = await asyncio.gather(*first, *second)
        await service.stop()
        return [r[0] for r in results], service.batches

    scores, batches = asyncio.run(run())
    assert len(scores) == 40 and set(scores) <= {1.0, 2.0} and scores[-1] == 2.0
    assert batches < 40 and max(calls) > 1  # requests were batched together
    assert sum(calls) == 40


def test_admin_registers_a_new_version(studio: Studio, studio_model) -> None:  # type: ignore[no-untyped-def]
    added = studio.admin.call(
        "POST",
        "/api/admin/versions",
        json={"name": "round-1", "path": str(studio_model), "round": 1},
    )
    assert added.status_code == 201, added.text
    score = studio.actor("attacker").call(
        "POST", "/api/score", json={"prompt": PROMPT, "completion": "She fell."}
    )
    assert score.json()["version"] == "round-1"
    missing = studio.admin.call(
        "POST", "/api/admin/versions", json={"name": "round-2", "path": "/no/such/folder"}
    )
    assert missing.status_code == 400 and "config.json" in missing.json()["detail"]


def test_a_version_activated_elsewhere_is_served(studio: Studio, studio_model) -> None:  # type: ignore[no-untyped-def]
    """The loop activates new versions in the database; the running studio follows."""
    import time

    from highstakes.store import accounts
    from highstakes.store.db import make_engine, session_factory

    engine = make_engine(studio.url)
    with session_factory(engine)() as session:
        accounts.add_version(session, "from-the-loop", str(studio_model), 0.4, 3)
        session.commit()
    engine.dispose()
    attacker = studio.actor("attacker")
    deadline = time.monotonic() + 30
    body = {"prompt": PROMPT, "completion": "She fell."}
    while attacker.call("POST", "/api/score", json=body).json()["version"] != "from-the-loop":
        assert time.monotonic() < deadline, "the studio never switched"
        time.sleep(0.2)
