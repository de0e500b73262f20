"""A minimal client for OpenAI-compatible chat endpoints (vLLM, llama.cpp's server, ...)."""

from __future__ import annotations

import json
import urllib.request
from typing import Any


def chat_completions(
    url: str, body: dict[str, Any], api_key: str | None = None, timeout_s: float = 60.0
) -> list[str]:
    """POST `body` to `{url}/chat/completions`; the text of every returned choice."""
    headers = {"Content-Type": "application/json"}
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    request = urllib.request.Request(
        url.rstrip("/") + "/chat/completions", json.dumps(body).encode(), headers
    )
    with urllib.request.urlopen(request, timeout=timeout_s) as response:
        payload = json.loads(response.read())
    return [str(c["message"]["content"]) for c in payload.get("choices", [])]
