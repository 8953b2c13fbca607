"""Load benchmark of `idr serve`: authenticated lookups over loopback at fixed rates.

    python benchmarks/serve_load.py --db bench_10m.duckdb --rates 1000,2000 --seconds 20 \
        [--incr-rate 1000] [--out benchmarks/results/serve_10m.json]

Starts `idr serve` on the database (its snapshot must be published: `idr run` once), creates
a key, samples identifier values from the snapshot and asks for them with the messiness
of real input (other case, blanks), plus some values nobody holds. Each phase sends at a
fixed rate for a fixed time (open loop: latency counts from when a request was due, so a
slow server cannot hide its queue), over keep-alive connections of a small raw HTTP/1.1
client driven by callbacks on uvloop (about 50 µs of CPU per request, measured; the
stream-based client before it cost about 550 µs, as much as the server, on a 2-core
machine where both compete). Each phase reports the server's and the generator's CPU
time per answer. With
--incr-rate, a last phase changes rows of crm_customers, runs `idr run --run-mode INCR`
and keeps sending until the service has switched to the new snapshot: errors and latency
while a run publishes and the index is rebuilt.

Bounded: every phase stops after --seconds (the INCR phase after the run plus the switch,
at most --incr-timeout); only 127.0.0.1. The machine's load average (`uptime`) is recorded
next to every number: the machine is shared, and the load generator runs on it too.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections import deque
from pathlib import Path


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get_json(url: str, key: str | None = None, timeout: float = 10) -> tuple[int, dict]:
    req = urllib.request.Request(url, headers={"X-API-Key": key} if key else {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


def sample_values(db: Path, n: int, seed: int) -> list[tuple[str, str]]:
    """(type, value as a source might hold it) for n values of the snapshot, 10% unknown."""
    import idr

    con = idr.open_results(db)
    try:
        total = con.execute("SELECT count(*) FROM idr_out.identity_identifier_pairs_current").fetchall()[0][0]
        # Sample sizes are integers from the command line (a SAMPLE clause takes no parameters).
        rows = con.execute("SELECT identifier_type, identifier_value_norm FROM idr_out.identity_identifier_pairs_current "
                           f"USING SAMPLE reservoir({int(n)} ROWS) REPEATABLE ({int(seed)})").fetchall()
    finally:
        con.close()
    rnd = random.Random(seed)
    out = []
    for t, v in rows:
        if t == "EMAIL":
            v = rnd.choice([v, v.upper(), f"  {v} ", v.title()])
        elif t == "PHONE" and v.startswith("+1") and len(v) == 12:
            d = v[2:]
            v = rnd.choice([v, f"({d[:3]}) {d[3:6]}-{d[6:]}", f"{d[:3]}.{d[3:6]}.{d[6:]}", f"1-{d[:3]}-{d[3:6]}-{d[6:]}"])
        out.append((t, v))
    for i in range(n // 10):
        out.append(("EMAIL", f"nobody.{seed}.{i}@nowhere.example"))
    rnd.shuffle(out)
    print(f"sampled {len(out):,} lookups from {total:,} identifier pairs", file=sys.stderr)
    return out


class _Conn(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection driven by callbacks (no task, future or stream
    per request: a request costs the generator tens of microseconds, not hundreds)."""

    def __init__(self, gen: "_Generator"):
        self.gen, self.transport, self.buf, self.due = gen, None, b"", None

    def connection_made(self, transport) -> None:
        self.transport = transport
        self.gen.idle.append(self)
        self.gen.dispatch()

    def send(self, due: float, request: bytes) -> None:
        self.due = due
        self.transport.write(request)

    def data_received(self, data: bytes) -> None:
        self.buf += data
        end = self.buf.find(b"\r\n\r\n")
        if end < 0:
            return
        head = self.buf[:end].lower()
        at = head.find(b"content-length:")
        stop = head.find(b"\r\n", at)
        length = int(head[at + 15:stop if stop >= 0 else len(head)]) if at >= 0 else 0
        if len(self.buf) < end + 4 + length:
            return
        status = int(head[9:12])
        self.buf = self.buf[end + 4 + length:]
        due, self.due = self.due, None
        self.gen.done(self, due, status)

    def connection_lost(self, exc) -> None:
        self.gen.lost(self)


class _Generator:
    """Sends requests due at fixed times over `connections` keep-alive connections; a
    request waits (its latency counting) when every connection is busy."""

    def __init__(self, port: int, requests: list[bytes], connections: int):
        self.port, self.requests, self.connections = port, requests, connections
        self.idle: list[_Conn] = []
        self.pending: deque = deque()  # (due, request) waiting for a free connection
        self.latencies: list[float] = []
        self.statuses: dict[int, int] = {}
        self.errors = 0
        self.busy = 0
        self.closing = False

    async def open(self) -> None:
        loop = asyncio.get_running_loop()
        for _ in range(self.connections):
            await loop.create_connection(lambda: _Conn(self), "127.0.0.1", self.port)

    def submit(self, due: float, request: bytes) -> None:
        self.pending.append((due, request))
        self.dispatch()

    def dispatch(self) -> None:
        while self.pending and self.idle:
            conn = self.idle.pop()
            self.busy += 1
            conn.send(*self.pending.popleft())

    def done(self, conn: _Conn, due: float, status: int) -> None:
        self.latencies.append(time.perf_counter() - due)
        self.statuses[status] = self.statuses.get(status, 0) + 1
        self.busy -= 1
        self.idle.append(conn)
        self.dispatch()

    def lost(self, conn: _Conn) -> None:
        if conn in self.idle:
            self.idle.remove(conn)
        if conn.due is not None:  # a request in flight: lost (counted as sent, never answered)
            self.errors += 1
            self.busy -= 1
        if not self.closing:
            asyncio.get_running_loop().create_task(
                asyncio.get_running_loop().create_connection(lambda: _Conn(self), "127.0.0.1", self.port))

    def close(self) -> None:
        self.closing = True
        for conn in self.idle:
            conn.transport.close()


def cpu_seconds(pid: int | None) -> float | None:
    """User + system CPU time of a process and its children (None without psutil)."""
    try:
        import psutil

        parent = psutil.Process(pid)
        return sum(t.user + t.system for t in (p.cpu_times() for p in [parent, *parent.children(recursive=True)]))
    except Exception:  # noqa: BLE001 - psutil is optional here
        return None


def own_cpu_seconds() -> float:
    t = os.times()
    return t.user + t.system


async def fixed_rate(port: int, key: str, lookups: list[tuple[str, str]], rate: float, seconds: float,
                     connections: int, until=None, server_pid: int | None = None) -> dict:
    """Send `rate` lookups per second for `seconds` (or until `until()` is true, checked
    every second, with `seconds` as the cap); latency from each request's due time."""
    requests = [("GET /v1/lookup?" + urllib.parse.urlencode({"type": t, "value": v}) +
                 f" HTTP/1.1\r\nHost: 127.0.0.1\r\nX-API-Key: {key}\r\n\r\n").encode() for t, v in lookups]
    gen = _Generator(port, requests, connections)
    await gen.open()
    start = time.perf_counter()
    sent = 0
    load_before = load_average()
    cpu_before, own_before = cpu_seconds(server_pid), own_cpu_seconds()
    checked = 0
    while True:
        now = time.perf_counter()
        elapsed = now - start
        if elapsed >= seconds:
            break
        if until is not None and int(elapsed) > checked:
            checked = int(elapsed)
            if until():
                break
        due_count = int(elapsed * rate) + 1
        while sent < due_count:
            gen.submit(start + sent / rate, requests[sent % len(requests)])
            sent += 1
        await asyncio.sleep(0.001)
    duration = time.perf_counter() - start
    while (gen.pending or gen.busy) and time.perf_counter() - start < duration + 60:
        await asyncio.sleep(0.005)
    drained = time.perf_counter() - start
    cpu_after, own_after = cpu_seconds(server_pid), own_cpu_seconds()
    gen.close()
    latencies = sorted(gen.latencies)

    def pct(p: float) -> float | None:
        return round(latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000, 2) if latencies else None

    statuses = gen.statuses
    server_errors = sum(c for s, c in statuses.items() if s >= 500 or s == 429)
    # CPU time per answer: what capacity a free core gives, whatever the load.
    n = len(latencies)
    cpu_us = round((cpu_after - cpu_before) / n * 1e6) if n and cpu_before is not None else None
    return {"target_rate": rate, "sent": sent, "answered": n, "seconds": round(duration, 2),
            "throughput_per_s": round(n / drained, 1), "p50_ms": pct(0.50), "p95_ms": pct(0.95),
            "p99_ms": pct(0.99), "max_ms": round(latencies[-1] * 1000, 2) if latencies else None,
            "statuses": {str(k): v for k, v in sorted(statuses.items())}, "connection_errors": gen.errors,
            "errors": server_errors + (sent - n), "server_cpu_us_per_request": cpu_us,
            "generator_cpu_us_per_request": round((own_after - own_before) / n * 1e6) if n else None,
            "load_average_before": load_before, "load_average_after": load_average()}


def run_loop(coro):
    """asyncio.run with uvloop when installed (the serve extra has it): a cheaper generator."""
    try:
        import uvloop

        return uvloop.run(coro)
    except ImportError:
        return asyncio.run(coro)


def start_server(db: Path, port: int, log: Path, env: dict) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "idr", "serve", "--db", str(db), "--port", str(port)],
                            env={**os.environ, "IDR_LOG_LEVEL": "WARNING", **env},
                            stdout=open(log, "ab"), stderr=subprocess.STDOUT, start_new_session=True)


def wait_health(url: str, proc: subprocess.Popen, timeout: float) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if proc.poll() is not None:
            raise SystemExit(f"idr serve exited with {proc.returncode}")
        try:
            if get_json(f"{url}/v1/health", timeout=2)[0] == 200:
                return time.monotonic() - started
        except OSError:
            pass
        time.sleep(0.5)
    raise SystemExit(f"idr serve not ready after {timeout:.0f} s")


def incr_run(db: Path) -> subprocess.Popen:
    """Change some source rows, then start an INCR run (returns its process)."""
    import duckdb

    con = duckdb.connect(str(db))
    try:
        con.execute("UPDATE crm_customers SET updated_at = now()::TIMESTAMP WHERE hash(customer_id) % 500 = 0")
    finally:
        con.close()
    return subprocess.Popen([sys.executable, "-m", "idr", "run", "--run-mode", "INCR", "--db", str(db)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", required=True, type=Path)
    ap.add_argument("--rates", default="1000,2000", help="comma-separated lookups per second, one phase each")
    ap.add_argument("--seconds", type=float, default=20, help="length of each phase")
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--samples", type=int, default=20000)
    ap.add_argument("--incr-rate", type=float, default=0, help="rate of the phase during an INCR run (0: none)")
    ap.add_argument("--incr-timeout", type=float, default=600)
    ap.add_argument("--ready-timeout", type=float, default=900)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--redis-url", default=None, help="REDIS_URL for the service (default: none)")
    ap.add_argument("--workers", type=int, default=1, help="idr serve --workers")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)
    db = args.db.resolve()

    from idr.api import keys

    key = keys.create(keys.store_path(db), "serve_load benchmark", "admin")[1]
    lookups = sample_values(db, args.samples, args.seed)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {"RATE_LIMIT_LOOKUP": "100000000/minute", "RATE_LIMIT_ADMIN": "100000/minute",
           "IDR_SERVE_WORKERS": str(args.workers)}
    if args.redis_url:
        env["REDIS_URL"] = args.redis_url
    log = Path(os.environ.get("TMPDIR", "/tmp")) / f"serve_load_{port}.log"
    proc = start_server(db, port, log, env)
    result: dict = {"db": str(db), "workers": args.workers, "connections": args.connections, "lookups_sampled": len(lookups),
                    "cpus": os.cpu_count(), "redis": bool(args.redis_url), "phases": []}
    try:
        result["ready_seconds"] = round(wait_health(url, proc, args.ready_timeout), 1)
        _, status = get_json(f"{url}/internal/status", key)
        result["snapshot"] = status["snapshot"]
        result["load_average_at_ready"] = load_average()
        run_loop(fixed_rate(port, key, lookups, 200, 3, args.connections))  # warm-up
        for rate in [float(r) for r in args.rates.split(",") if r.strip()]:
            phase = run_loop(fixed_rate(port, key, lookups, rate, args.seconds, args.connections,
                                           server_pid=proc.pid))
            phase["phase"] = f"{rate:g}/s"
            result["phases"].append(phase)
            print(json.dumps(phase), file=sys.stderr)
        if args.incr_rate:
            before = status["snapshot"]["version"]
            run = incr_run(db)
            started = time.monotonic()

            def switched() -> bool:
                if run.poll() is None:
                    return False
                code, body = get_json(f"{url}/internal/status", key)
                return code == 200 and body["snapshot"]["version"] != before

            phase = run_loop(fixed_rate(port, key, lookups, args.incr_rate, args.incr_timeout, args.connections,
                                           until=switched, server_pid=proc.pid))
            run.wait()
            _, after = get_json(f"{url}/internal/status", key)
            phase.update(phase=f"{args.incr_rate:g}/s during INCR run + switch", run_exit=run.returncode,
                         snapshot_after=after["snapshot"]["version"], switched=after["snapshot"]["version"] != before,
                         run_and_switch_seconds=round(time.monotonic() - started, 1),
                         index_load_seconds=after["snapshot"]["load_seconds"])
            result["phases"].append(phase)
            print(json.dumps(phase), file=sys.stderr)
        _, status = get_json(f"{url}/internal/status", key)
        result["cache"] = status["cache"]
        try:
            import psutil

            parent = psutil.Process(proc.pid)
            result["server_rss_mib"] = round(sum(p.memory_info().rss for p in [parent, *parent.children(recursive=True)])
                                             / 2**20)
        except Exception:  # noqa: BLE001 - psutil is optional here
            pass
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        keys.revoke(keys.store_path(db), key)
    text = json.dumps(result, indent=1)
    if args.out:
        args.out.write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
