"""The endpoint generator backend, and `load_generator`, which picks a backend by name.

A generator (the protocol is `filtering.base.Generator`) samples `n` one-sentence
continuations for each prompt.  Two backends: `LocalGenerator` (in `filtering.local`:
the embedded SmolLM2 or any Hugging Face causal LM) and `EndpointGenerator` (here: an
OpenAI-compatible `/v1/completions` server such as vLLM, for models too big for this
process).  This module does not import torch, so a user who only talks to an endpoint
does not pay for loading it; `load_generator` imports `filtering.local` only when asked
for a local model (`local` imports `base`, never this module).
"""

from __future__ import annotations

import logging
import time
import urllib.error
from collections.abc import Sequence
from typing import Any

from highstakes.filtering.base import Generator, Usage
from highstakes.models.endpoint import request_json

log = logging.getLogger(__name__)

# Stop as soon as the first sentence is over.  The trailing space makes "Mr." or "3.5"
# less likely to end a sample early; a sentence that ends in a quote (`."`) runs on to the
# newline or token limit and is cut on our side by `first_sentence`.
SENTENCE_STOPS = (". ", "! ", "? ", "\n")


def api_base(url: str) -> str:
    """`http://host:8000` and `http://host:8000/v1` both mean the server's /v1 root."""
    base = url.rstrip("/")
    return base if base.endswith("/v1") else base + "/v1"


class EndpointGenerator:
    """An OpenAI-compatible completions server (vLLM, llama.cpp's server, ...) by URL.

    All prompts of a call go out in batches of `batch_size` prompts per request, each
    asking for `n` choices.  `model` defaults to the first model the server lists.
    `include_stop_str_in_output` is a vLLM extension that keeps the sentence's final
    punctuation; servers that ignore it and report the matched stop in `stop_reason`
    (vLLM without the flag) still give whole sentences; for other servers pass
    `stop=("\\n",)` so the sentence end is not cut off.
    """

    def __init__(
        self,
        url: str,
        model: str | None = None,
        max_tokens: int = 40,
        temperature: float = 0.9,
        top_p: float = 0.95,
        stop: Sequence[str] = SENTENCE_STOPS,
        batch_size: int = 16,
        api_key: str | None = None,
        timeout_s: float = 120.0,
        n_parameters: int | None = None,
    ) -> None:
        self.base = api_base(url)
        self.model = model
        self.max_tokens = max_tokens
        self.temperature = temperature
        self.top_p = top_p
        self.stop = list(stop)
        self.batch_size = batch_size
        self.api_key = api_key
        self.timeout_s = timeout_s
        self.n_parameters = n_parameters
        self.usage = Usage()
        self.name = f"{self.base} ({model or 'served model'})"

    def _request(self, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        try:
            return request_json(self.base + path, body, self.api_key, self.timeout_s)
        except urllib.error.URLError as e:
            raise OSError(
                f"the generator server at {self.base} did not answer {path} ({e}); check that "
                "it is running (e.g. `vllm serve MODEL`) and that the URL is right"
            ) from e

    def served_model(self) -> str:
        if self.model is None:
            models = self._request("/models").get("data", [])
            if not models:
                raise OSError(f"the server at {self.base} lists no models; pass a model name")
            self.model = str(models[0]["id"])
            self.name = f"{self.base} ({self.model})"
        return self.model

    def sample(self, prompts: Sequence[str], n: int, seed: int | None = None) -> list[list[str]]:
        from highstakes.models.generator import first_sentence  # imports torch: only here

        t0 = time.perf_counter()
        out: list[list[str]] = []
        for start in range(0, len(prompts), self.batch_size):
            chunk = [p.rstrip() for p in prompts[start : start + self.batch_size]]
            texts = self._complete(chunk, n, None if seed is None else seed + start)
            out.extend([first_sentence(t) or "" for t in group] for group in texts)
        self.usage.n_calls += 1
        self.usage.seconds += time.perf_counter() - t0
        return out

    def _complete(self, prompts: list[str], n: int, seed: int | None) -> list[list[str]]:
        body: dict[str, Any] = {
            "model": self.served_model(),
            "prompt": prompts,
            "n": n,
            "max_tokens": self.max_tokens,
            "temperature": self.temperature,
            "top_p": self.top_p,
            "stop": self.stop,
            "include_stop_str_in_output": True,
        }
        if seed is not None:
            body["seed"] = seed
        payload = self._request("/completions", body)
        usage = payload.get("usage") or {}
        self.usage.n_input_tokens += int(usage.get("prompt_tokens", 0))
        self.usage.n_generated_tokens += int(usage.get("completion_tokens", 0))
        groups: list[list[str]] = [[] for _ in prompts]
        choices = payload.get("choices", [])
        # With a list of prompts and n choices each, choice i answers prompt i // n.
        for position, choice in enumerate(sorted(choices, key=lambda c: c.get("index", 0))):
            index = int(choice.get("index", position))
            groups[min(index // n, len(prompts) - 1)].append(_choice_text(choice))
        for group in groups:  # a short answer still counts n samples drawn
            group.extend([""] * (n - len(group)))
        return [g[:n] for g in groups]


def _choice_text(choice: dict[str, Any]) -> str:
    """The choice's text with its stop string restored when the server reported it."""
    text = str(choice.get("text", ""))
    reason = choice.get("stop_reason")
    if (
        choice.get("finish_reason") == "stop"
        and isinstance(reason, str)
        and not text.endswith(reason)
    ):
        text += reason
    return text


def load_generator(
    spec: str,
    model: str | None = None,
    n_parameters: int | None = None,
    device: str | None = None,
) -> Generator:
    """A URL (http:// or https://) means an endpoint; anything else a local model name."""
    if spec.startswith(("http://", "https://")):
        return EndpointGenerator(spec, model=model, n_parameters=n_parameters)
    from highstakes.filtering.local import LocalGenerator

    return LocalGenerator.from_pretrained(spec, device=device)
