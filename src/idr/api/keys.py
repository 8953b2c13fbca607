"""API keys: a small SQLite file of salted scrypt hashes, shared by every replica.

Where: <db>.idr/apikeys.sqlite3 next to the published snapshots (IDR_APIKEY_FILE moves
it). Why SQLite and not idr_meta: the service never opens the DuckDB file (a run holds it),
while every replica can read this file, and `idr apikey revoke` can write it while runs and
services work. A key looks like `idr_<id>_<secret>`: the id finds the row, the secret is
checked against scrypt(secret, salt) with hmac.compare_digest. Only the hash is stored;
the key is printed once, at creation.

Revocation takes effect at once everywhere: each request asks SQLite whether the file
changed (PRAGMA data_version, microseconds) and reloads the rows when it did. scrypt is
slow on purpose (tens of milliseconds), so a service remembers, per key id, the SHA-256 of
a key it has verified; a revoked or deleted key drops out with the reload.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import sqlite3
import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from ..errors import InputError
from ..publish import layout

SCOPES = ("read", "admin")
PREFIX = "idr_"
SCRYPT = {"n": 2 ** 14, "r": 8, "p": 1, "dklen": 32}
SCHEMA = """CREATE TABLE IF NOT EXISTS api_key (
  key_id TEXT PRIMARY KEY, name TEXT NOT NULL, scope TEXT NOT NULL, salt BLOB NOT NULL, hash BLOB NOT NULL,
  n INTEGER NOT NULL, r INTEGER NOT NULL, p INTEGER NOT NULL,
  created_at TEXT NOT NULL, revoked_at TEXT)"""


@dataclass(frozen=True)
class ApiKey:
    key_id: str
    name: str
    scope: str
    created_at: str
    revoked_at: str | None

    def allows(self, scope: str) -> bool:
        return self.scope == "admin" or self.scope == scope


def store_path(db, override: Path | None = None) -> Path:
    return Path(override) if override else layout.root(Path(db)) / "apikeys.sqlite3"


def _hash(secret: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(secret.encode(), salt=salt, n=n, r=r, p=p, dklen=SCRYPT["dklen"], maxmem=64 * 1024 * 1024)


def _connect(path: Path, *, write: bool) -> sqlite3.Connection:
    if write:
        path.parent.mkdir(parents=True, exist_ok=True)
        con = sqlite3.connect(path, timeout=10, isolation_level=None, check_same_thread=False)
        con.execute(SCHEMA)
        try:
            os.chmod(path, 0o600)  # hashes only, but nobody else needs to read them
        except OSError:
            pass
        return con
    if not path.exists():
        raise InputError(f"{path}: no API key store yet (create a key with `idr apikey create`)")
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10, isolation_level=None,
                           check_same_thread=False)


def _parse(key: str) -> tuple[str, str] | None:
    """(key id, secret) of a well-formed key, else None."""
    if not isinstance(key, str) or not key.startswith(PREFIX) or len(key) > 200:
        return None
    key_id, sep, secret = key[len(PREFIX):].partition("_")
    if not sep or len(key_id) != 12 or not secret or not key_id.isalnum():
        return None
    return key_id, secret


def create(path: Path, name: str, scope: str) -> tuple[ApiKey, str]:
    """A new key: (its record, the key itself, shown once)."""
    name = name.strip()
    if not name or len(name) > 100 or not name.isprintable():
        raise InputError("--name: expected 1 to 100 printable characters")
    if scope not in SCOPES:
        raise InputError(f"--scope {scope!r}: expected one of {', '.join(SCOPES)}")
    key_id, secret, salt = secrets.token_hex(6), secrets.token_urlsafe(32), secrets.token_bytes(16)
    now = datetime.now(timezone.utc).isoformat(timespec="seconds")
    con = _connect(path, write=True)
    try:
        con.execute("INSERT INTO api_key VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)",
                    [key_id, name, scope, salt, _hash(secret, salt, SCRYPT["n"], SCRYPT["r"], SCRYPT["p"]),
                     SCRYPT["n"], SCRYPT["r"], SCRYPT["p"], now])
    finally:
        con.close()
    return ApiKey(key_id, name, scope, now, None), f"{PREFIX}{key_id}_{secret}"


def list_keys(path: Path) -> list[ApiKey]:
    if not path.exists():
        return []
    con = _connect(path, write=False)
    try:
        return [ApiKey(*r) for r in con.execute(
            "SELECT key_id, name, scope, created_at, revoked_at FROM api_key ORDER BY created_at, key_id")]
    finally:
        con.close()


def revoke(path: Path, key_id: str) -> ApiKey:
    """Revoke by id (or by the whole key, whose id is then used)."""
    parsed = _parse(key_id)
    key_id = parsed[0] if parsed else key_id.strip()
    con = _connect(path, write=True)
    try:
        now = datetime.now(timezone.utc).isoformat(timespec="seconds")
        con.execute("UPDATE api_key SET revoked_at = coalesce(revoked_at, ?) WHERE key_id = ?", [now, key_id])
        row = con.execute("SELECT key_id, name, scope, created_at, revoked_at FROM api_key WHERE key_id = ?",
                          [key_id]).fetchall()
    finally:
        con.close()
    if not row:
        raise InputError(f"{key_id!r}: no such API key id (see `idr apikey list`)")
    return ApiKey(*row[0])


class KeyVerifier:
    """Checks presented keys against the store, reloading it whenever another process
    changed it; thread-safe."""

    def __init__(self, path: Path):
        self.path = path
        self._lock = threading.Lock()
        self._con: sqlite3.Connection | None = None
        self._version: int | None = None
        self._rows: dict[str, tuple] = {}  # key_id -> (ApiKey, salt, hash, n, r, p)
        self._verified: dict[str, bytes] = {}  # key_id -> sha256 of the key scrypt accepted

    def _refresh(self) -> None:
        if self._con is None:
            if not self.path.exists():
                self._rows, self._verified = {}, {}
                return
            self._con = _connect(self.path, write=False)
        version = self._con.execute("PRAGMA data_version").fetchone()[0]
        if version == self._version:
            return
        rows = {}
        for key_id, name, scope, created, revoked, salt, h, n, r, p in self._con.execute(
                "SELECT key_id, name, scope, created_at, revoked_at, salt, hash, n, r, p FROM api_key"):
            rows[key_id] = (ApiKey(key_id, name, scope, created, revoked), salt, h, n, r, p)
        self._rows, self._version = rows, version
        self._verified = {k: v for k, v in self._verified.items()
                          if k in rows and rows[k][0].revoked_at is None}

    def verify(self, key: str) -> ApiKey | None:
        """The key's record if the key is valid and not revoked, else None."""
        parsed = _parse(key)
        if parsed is None:
            return None
        key_id, secret = parsed
        with self._lock:
            self._refresh()
            row = self._rows.get(key_id)
            if row is None or row[0].revoked_at is not None:
                return None
            digest = hashlib.sha256(key.encode()).digest()
            known = self._verified.get(key_id)
        if known is not None:
            return row[0] if hmac.compare_digest(known, digest) else None
        record, salt, stored, n, r, p = row
        if not hmac.compare_digest(_hash(secret, salt, n, r, p), stored):
            return None
        with self._lock:
            self._verified[key_id] = digest
        return record

    def counts(self) -> dict[str, int]:
        with self._lock:
            self._refresh()
            rows = [r[0] for r in self._rows.values()]
        return {"active": sum(r.revoked_at is None for r in rows), "revoked": sum(r.revoked_at is not None for r in rows)}
