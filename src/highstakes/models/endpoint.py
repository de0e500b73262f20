"""A minimal client for OpenAI-compatible servers (vLLM, llama.cpp's server, ...)."""

from __future__ import annotations

import json
import urllib.request
from typing import Any


def request_json(
    url: str,
    body: dict[str, Any] | None = None,
    api_key: str | None = None,
    timeout_s: float = 60.0,
) -> dict[str, Any]:
    """POST `body` as JSON to `url` (GET when `body` is None); the decoded answer."""
    headers = {"Content-Type": "application/json"}
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data, headers)
    with urllib.request.urlopen(request, timeout=timeout_s) as response:
        payload: dict[str, Any] = json.loads(response.read())
    return payload


def chat_completions(
    url: str, body: dict[str, Any], api_key: str | None = None, timeout_s: float = 60.0
) -> list[str]:
    """POST `body` to `{url}/chat/completions`; the text of every returned choice."""
    payload = request_json(url.rstrip("/") + "/chat/completions", body, api_key, timeout_s)
    return [str(c["message"]["content"]) for c in payload.get("choices", [])]
