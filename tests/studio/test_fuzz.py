"""Fuzz every JSON API operation from the OpenAPI schema (schemathesis): valid and
invalid inputs, sent by a user of the operation's role, never get a server error."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from tests.studio.server import running, sign_in

ROLE_OF_TAG = {
    "attack": "attacker",
    "label": "labeler",
    "rate": "rater",
    "admin": "admin",
    "auth": "attacker",
}
EXAMPLES = 25  # per operation and mode: ~1,000 requests in all


def _fuzz(operation: Any, mode: GenerationMode, call: Callable[[Any], int]) -> list[str]:
    """Send up to EXAMPLES generated requests; return the ones answered with a 5xx."""
    failures: list[str] = []

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
        database=None,
    )
    @given(case=operation.as_strategy(mode))
    def run(case: schemathesis.Case) -> None:
        status = call(case)
        if status >= 500:
            failures.append(f"{case.method} {case.formatted_path} {status}: {case.body!r:.200}")

    try:
        run()
    except Unsatisfiable:
        # an operation with no inputs has no invalid input to send
        assert mode is GenerationMode.NEGATIVE, operation.label
    return failures


def test_api_never_answers_with_a_server_error(
    database_url: str, studio_model: Path, tmp_path: Path
) -> None:
    with running(database_url, studio_model, tmp_path) as server:
        spec = httpx.get(f"{server.url}/openapi.json").json()
        schema = schemathesis.openapi.from_dict(spec)
        clients = {role: sign_in(server.url, role) for role in set(ROLE_OF_TAG.values())}
        failures: list[str] = []
        calls = 0

        def caller(client: httpx.Client) -> Callable[[Any], int]:
            cookies = dict(client.cookies)
            headers = {"X-CSRF-Token": client.headers["X-CSRF-Token"]}

            def call(case: Any) -> int:
                nonlocal calls
                calls += 1
                response = case.call(base_url=server.url, headers=headers, cookies=cookies)
                return int(response.status_code)

            return call

        for result in schema.get_all_operations():
            operation = result.ok()
            call = caller(clients[ROLE_OF_TAG[(operation.tags or ["auth"])[0]]])
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                failures += _fuzz(operation, mode, call)
        assert calls > 300
        assert not failures, "\n".join(failures[:10])
