"""A 64-bit string hash computed the same way on a whole Arrow column (vectorised numpy)
and on one request's value.

Why not DuckDB's md5_number_lower: hashing 25M strings with it took most of an index
build (30 s of 97 s on the loaded 2-core machine); DuckDB's own hash() is fast but
internal to a DuckDB version. This is a polynomial hash over the UTF-8 bytes
(sum of byte_i * P^i modulo 2^64), mixed with the length and MurmurHash3's finaliser.
Collisions only cost an extra string comparison (index.py compares the strings).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

_P = np.uint64(0x100000001B3)  # odd: every power is invertible modulo 2^64
_LEN = np.uint64(0x9E3779B97F4A7C15)
_M1, _M2 = np.uint64(0xFF51AFD7ED558CCD), np.uint64(0xC4CEB9FE1A85EC53)
_S33 = np.uint64(33)
_CHUNK = 1 << 20  # strings hashed at a time (bounds the temporary arrays)
_pow = np.ones(1, dtype=np.uint64)


def _powers(n: int) -> np.ndarray:
    global _pow
    if len(_pow) < n:
        size = max(n, 2 * len(_pow))
        p = np.empty(size, dtype=np.uint64)
        p[0] = 1
        with np.errstate(over="ignore"):
            for i in range(1, size):  # only grows to the longest string seen (a few thousand)
                p[i] = p[i - 1] * _P
        _pow = p
    return _pow


def _mix(h: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        h ^= h >> _S33
        h *= _M1
        h ^= h >> _S33
        h *= _M2
        h ^= h >> _S33
    return h


def _hash_chunk(chunk: pa.Array) -> np.ndarray:
    bufs = chunk.buffers()
    width = np.int64 if pa.types.is_large_string(chunk.type) else np.int32
    offsets = np.frombuffer(bufs[1], dtype=width)[chunk.offset:chunk.offset + len(chunk) + 1].astype(np.int64)
    data = np.frombuffer(bufs[2], dtype=np.uint8)[offsets[0]:offsets[-1]] if bufs[2] is not None \
        else np.zeros(0, np.uint8)
    starts = offsets[:-1] - offsets[0]
    lengths = np.diff(offsets)
    sums = np.zeros(len(chunk), dtype=np.uint64)
    if len(data):
        pos = np.arange(len(data), dtype=np.int64) - np.repeat(starts, lengths)
        with np.errstate(over="ignore"):
            contrib = data.astype(np.uint64) * _powers(int(lengths.max()))[pos]
        nonempty = lengths > 0
        sums[nonempty] = np.add.reduceat(contrib, starts[nonempty])
    with np.errstate(over="ignore"):
        return _mix(sums ^ (lengths.astype(np.uint64) * _LEN))


def hash_column(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """The hash of every string of a column (no nulls), as uint64."""
    chunks = values.chunks if isinstance(values, pa.ChunkedArray) else [values]
    out = [np.zeros(0, dtype=np.uint64)]
    for c in chunks:
        for start in range(0, len(c), _CHUNK):
            out.append(_hash_chunk(c.slice(start, _CHUNK)))
    return np.concatenate(out)


_MASK = (1 << 64) - 1
_PY_POW = [1]


def _py_mix(h: int) -> int:
    h ^= h >> 33
    h = (h * int(_M1)) & _MASK
    h ^= h >> 33
    h = (h * int(_M2)) & _MASK
    return h ^ (h >> 33)


def hash_one(text: str) -> int:
    """hash_column's answer for one string, in plain Python (a request's value: microseconds)."""
    data = text.encode()
    while len(_PY_POW) < len(data):
        _PY_POW.append((_PY_POW[-1] * int(_P)) & _MASK)
    total = sum(b * p for b, p in zip(data, _PY_POW)) & _MASK
    return _py_mix(total ^ ((len(data) * int(_LEN)) & _MASK))
