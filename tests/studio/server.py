"""A real studio server in a child process (uvicorn on loopback), for the browser, crash
and load tests: the process can be killed like a production one."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from highstakes.data.io import write_examples
from highstakes.store import accounts
from highstakes.store.db import make_engine, migrate, session_factory
from tests.conftest import make_examples

PASSWORD = "correct horse battery"
USERS = {"admin": "admin", "attacker": "attacker", "labeler": "labeler", "rater": "rater"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def prepare(folder: Path, database_url: str, users: dict[str, str] = USERS) -> Path:
    """Schema and users made before the first start (so no random admin password); the
    demo-like data file the server imports.  Returns the data file."""
    engine = make_engine(database_url)
    migrate(engine)
    with session_factory(engine)() as session:
        for name, role in users.items():
            accounts.create_user(session, name, PASSWORD, role)
        session.commit()
    engine.dispose()
    return write_examples(folder / "data.jsonl", make_examples(12))


class Server:
    def __init__(
        self, database_url: str, model: Path, data: Path, log: Path, menu_lm: str = "none"
    ) -> None:
        self.database_url, self.model, self.data, self.log = database_url, model, data, log
        self.menu_lm = menu_lm
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 90) -> None:
        cmd = [
            sys.executable,
            "-c",
            "from highstakes.cli.main import app; app()",
            "studio",
            "--db",
            self.database_url,
            "--model",
            str(self.model),
            "--data",
            str(self.data),
            "--port",
            str(self.port),
            "--menu-lm",
            self.menu_lm,
        ]
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"studio exited: {self.log.read_text()[-2000:]}")
            try:
                if httpx.get(f"{self.url}/login", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.2)
        raise TimeoutError(f"studio did not start: {self.log.read_text()[-2000:]}")

    def kill(self) -> None:
        """SIGKILL: no shutdown handlers run, as in a crash."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()


@contextmanager
def running(
    database_url: str, model: Path, folder: Path, menu_lm: str = "none", data: str = ""
) -> Iterator[Server]:
    """A started server; `data` ("demo" or a file) replaces the small synthetic set."""
    made = prepare(folder, database_url)
    server = Server(
        database_url, model, Path(data) if data else made, folder / "server.log", menu_lm=menu_lm
    )
    server.start(timeout=300)
    try:
        yield server
    finally:
        server.stop()


def sign_in(url: str, username: str, password: str = PASSWORD) -> httpx.Client:
    """An HTTP client signed in as `username`, sending its CSRF token on every request."""
    import re

    client = httpx.Client(base_url=url, timeout=30)
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text)
    assert token
    login = client.post(
        "/login", data={"username": username, "password": password, "csrf_token": token.group(1)}
    )
    assert login.status_code in (200, 303), login.text
    client.headers["X-CSRF-Token"] = client.get("/api/me").json()["csrf_token"]
    return client
