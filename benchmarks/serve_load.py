"""Load benchmark of `idr serve`: authenticated lookups over loopback at fixed rates.

    python benchmarks/serve_load.py --db bench_10m.duckdb --rates 1000,2000 --seconds 20 \
        [--incr-rate 1000] [--out benchmarks/results/serve_10m.json]

Starts `idr serve` on the database (its snapshot must be published: `idr run` once), creates
a key, samples identifier values from the snapshot and asks for them with the messiness
of real input (other case, blanks), plus some values nobody holds. Each phase sends at a
fixed rate for a fixed time (open loop: latency counts from when a request was due, so a
slow server cannot hide its queue), over keep-alive connections of a small raw HTTP/1.1
client (a general client would cost more CPU than the server on a 2-core machine). With
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


class Connection:
    """One keep-alive HTTP/1.1 connection: send a GET, read the status and the body."""

    def __init__(self, reader, writer):
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, port: int) -> "Connection":
        return cls(*await asyncio.open_connection("127.0.0.1", port))

    async def get(self, target: str, headers: bytes) -> int:
        self.writer.write(b"GET " + target.encode() + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n" + headers + b"\r\n")
        status_line = await self.reader.readline()
        if not status_line:
            raise ConnectionError("closed")
        status = int(status_line.split()[1])
        length = 0
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.partition(b":")
            if name.lower() == b"content-length":
                length = int(value)
        if length:
            await self.reader.readexactly(length)
        return status

    def close(self) -> None:
        self.writer.close()


def cpu_seconds(pid: int | None) -> float | None:
    """User + system CPU time of a process (None without psutil)."""
    try:
        import psutil

        parent = psutil.Process(pid)
        return sum(t.user + t.system for t in (p.cpu_times() for p in [parent, *parent.children(recursive=True)]))
    except Exception:  # noqa: BLE001 - psutil is optional here
        return None


async def fixed_rate(port: int, key: str, lookups: list[tuple[str, str]], rate: float, seconds: float,
                     connections: int, until=None, server_pid: int | None = None) -> dict:
    """Send `rate` lookups per second for `seconds` (or until `until()` is true, checked
    every second, with `seconds` as the cap); latency from each request's due time."""
    headers = f"X-API-Key: {key}\r\n".encode()
    targets = ["/v1/lookup?" + urllib.parse.urlencode({"type": t, "value": v}) for t, v in lookups]
    queue: asyncio.Queue = asyncio.Queue()
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    errors = 0

    async def worker():
        nonlocal errors
        conn = await Connection.open(port)
        while True:
            item = await queue.get()
            if item is None:
                conn.close()
                return
            due, target = item
            try:
                status = await conn.get(target, headers)
            except (ConnectionError, asyncio.IncompleteReadError, OSError):
                errors += 1
                conn.close()
                conn = await Connection.open(port)
                continue
            latencies.append(time.perf_counter() - due)
            statuses[status] = statuses.get(status, 0) + 1

    workers = [asyncio.create_task(worker()) for _ in range(connections)]
    start = time.perf_counter()
    sent, i = 0, 0
    load_before = load_average()
    cpu_before = cpu_seconds(server_pid)
    while True:
        now = time.perf_counter()
        elapsed = now - start
        if elapsed >= seconds or (until is not None and sent % max(int(rate), 1) == 0 and sent and until()):
            break
        due_count = int(elapsed * rate) + 1
        while sent < due_count:
            queue.put_nowait((start + sent / rate, targets[i % len(targets)]))
            sent += 1
            i += 1
        await asyncio.sleep(0.001)
    duration = time.perf_counter() - start
    for _ in workers:
        queue.put_nowait(None)
    await asyncio.gather(*workers)
    drained = time.perf_counter() - start
    latencies.sort()

    def pct(p: float) -> float | None:
        return round(latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000, 2) if latencies else None

    server_errors = sum(c for s, c in statuses.items() if s >= 500 or s == 429)
    cpu_after = cpu_seconds(server_pid)
    # The server's CPU time per answer: what capacity a free core gives, whatever the load.
    cpu_us = round((cpu_after - cpu_before) / len(latencies) * 1e6) if latencies and cpu_before is not None else None
    return {"target_rate": rate, "sent": sent, "answered": len(latencies), "seconds": round(duration, 2),
            "throughput_per_s": round(len(latencies) / drained, 1), "p50_ms": pct(0.50), "p95_ms": pct(0.95),
            "p99_ms": pct(0.99), "max_ms": round(latencies[-1] * 1000, 2) if latencies else None,
            "statuses": {str(k): v for k, v in sorted(statuses.items())}, "connection_errors": errors,
            "errors": errors + server_errors, "server_cpu_us_per_request": cpu_us,
            "load_average_before": load_before, "load_average_after": load_average()}


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
        asyncio.run(fixed_rate(port, key, lookups, 200, 3, args.connections))  # warm-up
        for rate in [float(r) for r in args.rates.split(",") if r.strip()]:
            phase = asyncio.run(fixed_rate(port, key, lookups, rate, args.seconds, args.connections,
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

            phase = asyncio.run(fixed_rate(port, key, lookups, args.incr_rate, args.incr_timeout, args.connections,
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
