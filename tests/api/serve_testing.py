"""Helpers of the lookup service's tests: a demo database, keys, an app, a real server."""

from __future__ import annotations

import io
import os
import shutil
import socket
import subprocess
import sys
import time
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from pathlib import Path

import httpx


def demo_db(folder: Path, persons: int = 300) -> Path:
    """A demo database (CRM, orders, loyalty, web sign-ups; golden profiles) with one FULL run."""
    from idr.demo import run_demo

    db = folder / "idr.duckdb"
    with redirect_stdout(io.StringIO()), redirect_stderr(io.StringIO()):
        run_demo(str(db), persons=persons, seed=11)
    return db


def copy_db(src: Path, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(src, folder / src.name)
    shutil.copytree(src.parent / f"{src.name}.idr", folder / f"{src.name}.idr")
    return folder / src.name


def new_key(db: Path, scope: str = "read", name: str = "tests") -> str:
    from idr.api import keys

    return keys.create(keys.store_path(db), name, scope)[1]


def settings(**env):
    from idr.settings import ServeSettings

    return ServeSettings(**{"snapshot_poll_seconds": 0.1, **env})


@contextmanager
def client(db: Path, **env):
    """A TestClient on the app, once the snapshot is loaded."""
    from fastapi.testclient import TestClient

    from idr.api.app import create_app

    with TestClient(create_app(db, settings(**env))) as c:
        wait_ready(lambda: c.get("/v1/health").status_code == 200)
        yield c


def wait_ready(check, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except (httpx.HTTPError, OSError):
            pass
        time.sleep(0.05)
    raise AssertionError("the service did not become ready")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def server(db: Path, env: dict | None = None, log: Path | None = None):
    """`idr serve` in a child process on a free loopback port: yields its base URL."""
    port = free_port()
    out = open(log, "ab") if log else subprocess.DEVNULL
    proc = subprocess.Popen([sys.executable, "-m", "idr", "serve", "--db", str(db), "--port", str(port)],
                            env={**os.environ, "IDR_SNAPSHOT_POLL_SECONDS": "0.2", **(env or {})},
                            stdout=out, stderr=out)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(lambda: proc.poll() is None and httpx.get(f"{url}/v1/health", timeout=2).status_code == 200)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if log:
            out.close()


REDIS = ("127.0.0.1", 6379)


def redis_or_skip():
    """The machine's Redis (.ci/run starts it), else skip (fail under IDR_REQUIRE_SERVICES=1)."""
    import redis

    from idr_testing import need

    try:
        redis.Redis(*REDIS, socket_timeout=1).ping()
    except redis.RedisError:
        need(f"Redis is not running on {REDIS[0]}:{REDIS[1]}")
    return f"redis://{REDIS[0]}:{REDIS[1]}/0"


@contextmanager
def own_redis(port: int | None = None):
    """A private redis-server on a free loopback port (one the test may stop and start)."""
    from idr_testing import need

    exe = shutil.which("redis-server")
    if exe is None:
        need("redis-server is not installed")
    port = port or free_port()
    proc = subprocess.Popen([exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    import redis

    try:
        wait_ready(lambda: redis.Redis("127.0.0.1", port, socket_timeout=0.5).ping(), timeout=10)
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=10)
