"""The endpoint backend against a stand-in OpenAI-compatible completions server."""

from __future__ import annotations

import pytest

from highstakes.filtering.generators import EndpointGenerator, api_base, load_generator
from tests.filtering.servers import CompletionsServer, server_url

__all__ = ["server_url"]  # the fixture, imported for pytest


def test_samples_group_by_prompt_and_keep_sentence_ends(server_url: str) -> None:
    gen = load_generator(server_url, n_parameters=1_000_000)
    assert isinstance(gen, EndpointGenerator)
    out = gen.sample(["One. Two. Three.", "Four. Five. Six."], n=3, seed=5)
    assert out == [
        ["Sample 0-0 ran home.", "Sample 0-1 fell.", ""],
        ["Sample 1-0 ran home.", "Sample 1-1 fell.", ""],
    ]
    body = CompletionsServer.requests[-1]["body"]
    assert CompletionsServer.requests[-1]["path"] == "/v1/completions"
    assert body["model"] == "served-llm" and body["seed"] == 5 and body["n"] == 3
    assert ". " in body["stop"] and body["max_tokens"] == 40
    assert gen.usage.n_input_tokens == 14 and gen.usage.n_generated_tokens == 36
    assert gen.usage.flops(gen.n_parameters) == 2 * 1_000_000 * 50


def test_prompts_go_out_in_batches(server_url: str) -> None:
    gen = EndpointGenerator(server_url + "/v1/", model="m", batch_size=2)
    before = len(CompletionsServer.requests)
    out = gen.sample([f"Prompt {i}." for i in range(5)], n=1)
    sent = CompletionsServer.requests[before:]
    assert [len(r["body"]["prompt"]) for r in sent] == [2, 2, 1]
    assert len(out) == 5 and all(len(row) == 1 for row in out)
    assert "seed" not in sent[0]["body"]


def test_unreachable_server_says_what_to_do() -> None:
    gen = EndpointGenerator("http://127.0.0.1:9", model="m", timeout_s=2)
    with pytest.raises(OSError, match="check that it is running"):
        gen.sample(["A. B. C."], n=1)


def test_api_base_accepts_urls_with_or_without_v1() -> None:
    assert api_base("http://h:8000") == "http://h:8000/v1"
    assert api_base("http://h:8000/v1/") == "http://h:8000/v1"
