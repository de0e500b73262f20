"""Every role reaches its own endpoints and pages and is refused the others'."""

from __future__ import annotations

import pytest

from tests.studio.conftest import Studio

SNIPPET = {
    "prompt": "Ann walked to the shed. It was late. She lit a lamp.",
    "completion": "She cut her thumb.",
}

# (method, path, body, roles allowed); a body of None means no JSON body
ENDPOINTS = [
    ("POST", "/api/score", SNIPPET, {"attacker"}),
    ("POST", "/api/saliency", SNIPPET, {"attacker"}),
    ("POST", "/api/menu", {**SNIPPET, "field": "completion", "index": 0}, {"attacker"}),
    ("POST", "/api/tasks/write", None, {"attacker"}),
    ("GET", "/api/labels/next", None, {"labeler"}),
    ("GET", "/api/ratings/next", None, {"rater"}),
    ("GET", "/api/admin/dashboard", None, {"admin"}),
    ("GET", "/api/admin/users", None, {"admin"}),
    ("GET", "/api/admin/export", None, {"admin"}),
    ("GET", "/api/admin/lockouts", None, {"admin"}),
    ("POST", "/api/admin/unlock", {"username": "attacker"}, {"admin"}),
    ("POST", "/api/admin/settings", {"labels_per_snippet": 2}, {"admin"}),
    ("POST", "/api/admin/snippets", {**SNIPPET, "source": "generator"}, {"admin"}),
    (
        "POST",
        "/api/admin/pairs",
        {"prompt": SNIPPET["prompt"], "filtered": "A.", "unfiltered": "B.", "threshold": 0.1},
        {"admin"},
    ),
]
PAGES = {
    "/attack": "attacker",
    "/attack/rewrite": "attacker",
    "/label": "labeler",
    "/rate": "rater",
    "/admin": "admin",
}
EVERYONE = ("admin", "attacker", "labeler", "rater")


def _actor(studio: Studio, role: str):  # type: ignore[no-untyped-def]
    return studio.admin if role == "admin" else studio.actor(role)


def test_api_roles(studio: Studio) -> None:
    for method, path, body, allowed in ENDPOINTS:
        for role in EVERYONE:
            kwargs = {"json": body} if body is not None else {}
            response = _actor(studio, role).call(method, path, **kwargs)
            if role in allowed:
                assert response.status_code in (200, 201, 204), (role, path, response.text)
            else:
                assert response.status_code == 403, (role, path, response.status_code)
                assert "role" in response.json()["detail"]


def test_pages_by_role(studio: Studio) -> None:
    for path, owner in PAGES.items():
        for role in EVERYONE:
            response = _actor(studio, role).call("GET", path)
            assert response.status_code == (200 if role == owner else 403), (role, path)
    for role in EVERYONE:  # the guide is for everyone; / sends each role home
        assert _actor(studio, role).call("GET", "/guide").status_code == 200
        home = _actor(studio, role).call("GET", "/", follow_redirects=False)
        assert home.status_code == 303


def test_signed_out_requests_are_refused(studio: Studio) -> None:
    client = studio.client
    client.cookies.clear()
    assert client.post("/api/score", json=SNIPPET).status_code == 401
    assert client.get("/api/admin/dashboard").status_code == 401
    page = client.get("/admin", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"] == "/login"


def test_csrf_token_is_required_for_writes(studio: Studio) -> None:
    attacker = studio.actor("attacker")
    missing = attacker.call("POST", "/api/score", json=SNIPPET, headers={"X-CSRF-Token": ""})
    assert missing.status_code == 403 and "CSRF" in missing.json()["detail"]
    other = studio.actor("attacker2").csrf  # another session's token does not do
    wrong = attacker.call("POST", "/api/score", json=SNIPPET, headers={"X-CSRF-Token": other})
    assert wrong.status_code == 403
    logout = attacker.call("POST", "/logout", headers={"X-CSRF-Token": ""}, follow_redirects=False)
    assert logout.status_code == 403  # a forged logout is refused too


def test_attacker_never_sees_another_attackers_task(studio: Studio) -> None:
    mine = studio.actor("attacker").call("POST", "/api/tasks/rewrite").json()
    theirs = studio.actor("attacker2")
    for action, body in (("heartbeat", {"active_ms": 10, **SNIPPET}), ("skip", {})):
        response = theirs.call("POST", f"/api/tasks/{mine['task_id']}/{action}", json=body)
        assert response.status_code == 404  # not 403: ids reveal nothing
    submit = theirs.call(
        "POST", f"/api/tasks/{mine['task_id']}/submit", json={**SNIPPET, "still_injurious": True}
    )
    assert submit.status_code == 404
    # and their own rewrite task starts from their own draft, not mine
    studio.actor("attacker").call(
        "POST", f"/api/tasks/{mine['task_id']}/heartbeat", json={"active_ms": 5, **SNIPPET}
    )
    own = theirs.call("POST", "/api/tasks/rewrite").json()
    assert own["task_id"] != mine["task_id"] and own["completion"] != SNIPPET["completion"]


def test_rater_is_not_told_which_completion_was_filtered(studio: Studio) -> None:
    studio.admin.call("POST", "/api/admin/pairs", json=ENDPOINTS[-1][2])
    pair = studio.actor("rater").call("GET", "/api/ratings/next").json()
    assert set(pair) == {"pair_id", "prompt", "a", "b"}
    assert {pair["a"], pair["b"]} == {"A.", "B."}
    page = studio.actor("rater").call("GET", "/rate").text
    assert "filtered" not in page.lower()


def test_wrong_password_and_expired_session(studio: Studio) -> None:
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import update

    from highstakes.store.db import make_engine
    from highstakes.store.tables import LoginSession
    from tests.studio.conftest import sign_in

    with pytest.raises(AssertionError):
        sign_in(studio.client, "attacker", "not the password")
    actor = sign_in(studio.client, "rater")
    engine = make_engine(studio.url)
    with engine.begin() as conn:
        conn.execute(
            update(LoginSession).values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    engine.dispose()
    assert actor.call("GET", "/api/ratings/next").status_code == 401
