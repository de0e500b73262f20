"""Simulated attackers against a real studio server on loopback.

usage: python benchmarks/studio_load.py --users 30 --out load.json [--seconds 90]
       [--model DIR] [--menu-lm embedded-smollm2|none]

Each simulated attacker works at a person's pace on the rewrite page: a burst of typing
(a debounced score request every 0.4-1.2 s, 3-8 of them), a saliency refresh once the
typing stops, and in one cycle of four a word menu, read for 2-4 s, then applied (one
more score); then a pause of 1-4 s.  That is about one score request per second and one
menu per half minute per attacker.  Without --model the embedded MiniLM with a fresh
two-label head is served: the same compute as a trained one (latency does not depend on
the weights).  Writes {"users", "p50_ms", "p95_ms", "menu_p95_ms", "errors", ...}.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for tests.studio.server

from tests.studio.server import PASSWORD, Server, prepare, sign_in

PROMPT = "The storm had passed by morning. Lena walked down to the harbour. The boats were"
COMPLETION = "A loose spar swung round and struck her across the face, breaking her nose."


def untrained_minilm(folder: Path) -> Path:
    from highstakes.models.classifier import Classifier

    clf = Classifier.from_pretrained("embedded-minilm")
    clf.threshold = 0.5
    return clf.save(folder / "minilm")


async def attacker(
    url: str, cookies: dict[str, str], csrf: str, seed: int, stop: float, out: dict[str, list]
) -> None:
    rng = random.Random(seed)
    headers = {"X-CSRF-Token": csrf}
    async with httpx.AsyncClient(base_url=url, cookies=cookies, headers=headers, timeout=60) as c:

        async def call(kind: str, path: str, body: dict) -> dict | None:
            t0 = time.perf_counter()
            try:
                response = await c.post(path, json=body)
                ok = response.status_code == 200
            except httpx.HTTPError:
                ok = False
            out[kind].append((time.perf_counter() - t0) * 1000)
            if not ok:
                out["errors"].append(kind)
                return None
            return response.json()

        await asyncio.sleep(rng.uniform(0, 3))  # people do not arrive in lockstep
        words = COMPLETION.split()
        while time.perf_counter() < stop:
            for _ in range(rng.randint(3, 8)):
                text = " ".join(w if rng.random() > 0.1 else w[::-1] for w in words)
                await call("score", "/api/score", {"prompt": PROMPT, "completion": text})
                await asyncio.sleep(rng.uniform(0.4, 1.2))
            await call("saliency", "/api/saliency", {"prompt": PROMPT, "completion": COMPLETION})
            if rng.random() < 0.25:
                index = rng.randrange(len(words) - 1)
                body = {
                    "prompt": PROMPT,
                    "completion": COMPLETION,
                    "field": "completion",
                    "index": index,
                }
                menu = await call("menu", "/api/menu", body)
                await asyncio.sleep(rng.uniform(2, 4))
                if menu and menu["items"]:
                    pick = menu["items"][0]
                    edited = {"prompt": pick["prompt"], "completion": pick["completion"]}
                    await call("score", "/api/score", edited)
            await asyncio.sleep(rng.uniform(1, 4))


async def run(url: str, users: int, seconds: float, sessions: list) -> dict[str, list]:
    out: dict[str, list] = {"score": [], "menu": [], "saliency": [], "errors": []}
    stop = time.perf_counter() + seconds
    await asyncio.gather(
        *(attacker(url, ck, csrf, i, stop, out) for i, (ck, csrf) in enumerate(sessions))
    )
    return out


def pct(values: list[float], q: float) -> float | None:
    return round(float(np.percentile(values, q)), 1) if values else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=30)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seconds", type=float, default=90.0)
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--menu-lm", default="embedded-smollm2")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        model = args.model or untrained_minilm(folder)
        db = f"sqlite:///{folder / 'studio.db'}"
        names = {f"attacker{i}": "attacker" for i in range(args.users)}
        data = prepare(folder, db, {"admin": "admin", **names})
        server = Server(db, model, data, folder / "server.log", menu_lm=args.menu_lm)
        server.start(timeout=300)
        try:
            sessions = []
            for name in names:
                client = sign_in(server.url, name, PASSWORD)
                sessions.append((dict(client.cookies), client.headers["X-CSRF-Token"]))
                client.close()
            t0 = time.perf_counter()
            out = asyncio.run(run(server.url, args.users, args.seconds, sessions))
            wall = time.perf_counter() - t0
        finally:
            server.stop()

    result = {
        "users": args.users,
        "seconds": round(wall, 1),
        "score_requests": len(out["score"]),
        "p50_ms": pct(out["score"], 50),
        "p95_ms": pct(out["score"], 95),
        "menu_requests": len(out["menu"]),
        "menu_p50_ms": pct(out["menu"], 50),
        "menu_p95_ms": pct(out["menu"], 95),
        "saliency_requests": len(out["saliency"]),
        "saliency_p95_ms": pct(out["saliency"], 95),
        "errors": len(out["errors"]),
        "model": str(args.model) if args.model else "embedded-minilm, untrained head",
        "menu_lm": args.menu_lm,
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
    }
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
