"""A throwaway PostgreSQL cluster for the tests: initdb in a temporary folder, run as an
unprivileged user (PostgreSQL refuses to run as root), on a Unix socket in that folder."""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

_cluster: dict[str, object] = {}
_counter = itertools.count()


def _pg_bin(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    for base in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (base / name).exists():
            return str(base / name)
    return None


def _run_as(user: str | None, args: list[str]) -> None:
    cmd = ["runuser", "-u", user, "--", *args] if user else args
    subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=120)


def start_cluster() -> tuple[str, Path]:
    """Start one cluster per test session; returns (socket dir, data dir)."""
    initdb, pg_ctl = _pg_bin("initdb"), _pg_bin("pg_ctl")
    if not initdb or not pg_ctl:
        raise RuntimeError("PostgreSQL is not installed (no initdb/pg_ctl)")
    user = "postgres" if os.geteuid() == 0 else None
    root = Path(tempfile.mkdtemp(prefix="highstakes-pg-"))
    root.chmod(0o777)
    data = root / "data"
    _run_as(user, [initdb, "-D", str(data), "-U", "highstakes", "--auth=trust", "-E", "UTF8"])
    options = f"-k {root} -c listen_addresses='' -c fsync=off -c max_connections=200"
    _run_as(user, [pg_ctl, "-D", str(data), "-o", options, "-l", str(root / "log"), "-w", "start"])
    _cluster.update(root=root, data=data, user=user, pg_ctl=pg_ctl)
    return str(root), data


def stop_cluster() -> None:
    if _cluster:
        _run_as(
            _cluster["user"],  # type: ignore[arg-type]
            [str(_cluster["pg_ctl"]), "-D", str(_cluster["data"]), "-m", "immediate", "stop"],
        )
        shutil.rmtree(_cluster["root"], ignore_errors=True)  # type: ignore[arg-type]
        _cluster.clear()


@contextmanager
def postgres_database(request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh database in the session's cluster, as a SQLAlchemy URL."""
    import psycopg

    if not _cluster:
        start_cluster()
        request.session.config.add_cleanup(stop_cluster)
    socket_dir = str(_cluster["root"])
    name = f"studio_{os.getpid()}_{next(_counter)}"
    with psycopg.connect(
        host=socket_dir, user="highstakes", dbname="postgres", autocommit=True
    ) as c:
        c.execute(f'CREATE DATABASE "{name}"')
    yield f"postgresql+psycopg://highstakes@/{name}?host={socket_dir}"
