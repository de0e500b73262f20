from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import ClassVar

import pytest

from highstakes.attacks.paraphrase import EndpointParaphraser
from highstakes.data.records import Label, Snippet
from highstakes.labelers import (
    LLMJudgeLabeler,
    ReferenceClassifierLabeler,
    apply_labeler,
    parse_judgement,
)
from highstakes.models.classifier import Classifier
from tests.conftest import make_examples


class ChatServer(BaseHTTPRequestHandler):
    """A stand-in OpenAI-compatible server: answers 'yes' when the snippet mentions blood,
    and returns paraphrases numbered by choice."""

    requests: ClassVar[list[dict]] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        ChatServer.requests.append({"path": self.path, "body": body})
        last = body["messages"][-1]["content"]
        if "injurious" in last:
            content = "Yes." if "blood" in last else "no"
            choices = [{"message": {"content": content}}]
        else:
            choices = [
                {"message": {"content": f"Rewrite number {i} of it."}}
                for i in range(body.get("n", 1))
            ]
        data = json.dumps({"choices": choices}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server_url() -> Iterator[str]:
    server = HTTPServer(("127.0.0.1", 0), ChatServer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/v1"
    server.shutdown()


def test_llm_judge_over_http(server_url: str) -> None:
    judge = LLMJudgeLabeler(server_url, model="judge-x")
    labels = judge.label([Snippet("A. B. C.", "There was blood."), Snippet("A. B. C.", "Tea.")])
    assert labels == [Label.YES, Label.NO]
    sent = ChatServer.requests[-1]
    assert sent["path"] == "/v1/chat/completions" and sent["body"]["model"] == "judge-x"
    assert "Labeling guide" in sent["body"]["messages"][0]["content"]


def test_endpoint_paraphraser_over_http(server_url: str) -> None:
    texts = EndpointParaphraser(server_url).paraphrase(Snippet("A. B. C.", "He fell."), 3)
    assert texts == [f"Rewrite number {i} of it." for i in range(3)]


def test_parse_judgement() -> None:
    assert parse_judgement("Yes, clearly") is Label.YES
    assert parse_judgement("UNSURE") is Label.UNSURE
    assert parse_judgement("I cannot say") is Label.UNSURE


def test_reference_classifier_labels_and_provenance(tiny_model_dir: Path) -> None:
    clf = Classifier.from_pretrained(tiny_model_dir)
    examples = [e for e in make_examples(2)]
    scores = clf.score([e.snippet for e in examples])
    mid = float(sorted(scores)[len(scores) // 2])
    labeler = ReferenceClassifierLabeler(
        clf, yes_threshold=mid, no_threshold=mid - 1e-9, name="reference-classifier:tiny"
    )
    labeled = apply_labeler(examples, labeler)
    for e, s in zip(labeled, scores, strict=True):
        assert e.label is (Label.YES if s >= mid else Label.NO)
        assert e.provenance.labelers[-1] == "reference-classifier:tiny"
        assert e.tags["labeler_kind"] == "reference-classifier"
