"""A stand-in OpenAI-compatible completions server for endpoint tests."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import ClassVar

import pytest


class CompletionsServer(BaseHTTPRequestHandler):
    """Answers /v1/models and /v1/completions like vLLM: choice i*n+j answers prompt i.
    Choices come back in reverse order: their index is all a client may rely on."""

    requests: ClassVar[list[dict]] = []

    def _send(self, payload: dict) -> None:
        data = json.dumps(payload).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        self._send({"data": [{"id": "served-llm"}]})

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        CompletionsServer.requests.append({"path": self.path, "body": body})
        n, choices = body["n"], []
        for i, _ in enumerate(body["prompt"]):
            for j in range(n):
                if j == 0:  # kept its stop string (include_stop_str_in_output honoured)
                    choice = {"text": f" Sample {i}-{j} ran home. ", "finish_reason": "stop"}
                elif j == 1:  # stop string stripped but named in stop_reason
                    choice = {"text": f" Sample {i}-{j} fell", "finish_reason": "stop"}
                    choice["stop_reason"] = ". "
                else:  # hit the token limit mid-sentence: no whole sentence
                    choice = {"text": " and then the", "finish_reason": "length"}
                choices.append({"index": i * n + j, **choice})
        choices.reverse()
        usage = {"prompt_tokens": 7 * len(body["prompt"]), "completion_tokens": 6 * len(choices)}
        self._send({"choices": choices, "usage": usage})

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server_url() -> Iterator[str]:
    server = HTTPServer(("127.0.0.1", 0), CompletionsServer)
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
