"""GET /v1/lookup and POST /v1/lookup/batch: who holds this identifier value?"""

from __future__ import annotations

import json
from typing import Annotated

import numpy as np
from fastapi import APIRouter, Query
from starlette.responses import Response

from ..cache import cache_key
from ..deps import BatchCtx, LookupCtx
from ..errors import ApiError, documented
from ..index import SnapshotIndex
from ..models import MAX_NAME, MAX_VALUE, BatchRequest, BatchResult, LookupResult
from ..service import Service

router = APIRouter(prefix="/v1", tags=["lookup"])


def _dumps(body: dict) -> bytes:
    return json.dumps(body, separators=(",", ":"), default=str).encode()


def _known_type(index: SnapshotIndex, identifier_type: str) -> bool:
    return index.normaliser is not None and identifier_type in index.normaliser.rules


def _unknown_type(index: SnapshotIndex) -> ApiError:
    # 404, not 422: the request is well-formed, there is just nothing of that type to find.
    known = ", ".join(sorted(index.normaliser.rules)) if index.normaliser else "none (no run published)"
    return ApiError(404, "unknown_identifier_type", f"no rule for this identifier type in the served run "
                    f"(known: {known})")


_SMALL = 32  # holders answered in plain Python; numpy's per-call cost wins only beyond


def _record(index: SnapshotIndex, pos: int) -> tuple[int, dict]:
    m = index.member(pos)
    return m.cluster, {"entity_key": m.entity_key, "table_id": m.table_id}


def _match(index: SnapshotIndex, c: int, records: list, total: int) -> dict:
    return {"resolved_id": index.cluster_rid[c].as_py(), "cluster_size": int(index.cluster_size[c]),
            "records": sorted(records, key=lambda r: r["entity_key"]), "records_total": total}


def _matches_small(index: SnapshotIndex, holders: list[int], records_max: int) -> tuple[list, int]:
    by_cluster: dict[int, list] = {}
    for pos in holders:
        c, rec = _record(index, pos)
        by_cluster.setdefault(c, []).append(rec)
    ranked = sorted(by_cluster, key=lambda c: (-int(index.cluster_size[c]), c))[:records_max]
    return [_match(index, c, by_cluster[c][:records_max], len(by_cluster[c])) for c in ranked], len(by_cluster)


def _matches_many(index: SnapshotIndex, holders, records_max: int) -> tuple[list, int]:
    """A value held by many records (a skipped group): grouped by cluster with numpy."""
    clusters = index.member_cluster[holders]
    order = np.argsort(clusters, kind="stable")
    found, starts, counts = np.unique(clusters[order], return_index=True, return_counts=True)
    sizes = index.cluster_size[found]
    # Largest clusters first, records_max of them.
    ranked = sorted(range(len(found)), key=lambda i: (-int(sizes[i]), int(found[i])))[:records_max]
    matches = []
    for i in ranked:
        members = holders[order[starts[i]:starts[i] + min(int(counts[i]), records_max)]].tolist()
        matches.append(_match(index, int(found[i]), [_record(index, p)[1] for p in members], int(counts[i])))
    return matches, len(found)


def _result(index: SnapshotIndex, records_max: int, identifier_type: str, norm: str | None, status: str) -> dict:
    body = {"status": status, "identifier_type": identifier_type, "normalised_value": norm, "resolved_id": None,
            "cluster_size": None, "skipped_group": False, "matches": [], "clusters_total": 0,
            "snapshot": index.version}
    if status != "ok":
        return body
    holders = index.holders(identifier_type, norm)
    if len(holders) == 0:
        body["status"] = "not_found"
        return body
    if len(holders) <= _SMALL:
        matches, total = _matches_small(index, holders.tolist(), records_max)
    else:
        matches, total = _matches_many(index, holders, records_max)
    body.update(status="found", skipped_group=index.is_skipped(identifier_type, norm), matches=matches,
                clusters_total=total)
    if len(matches) == 1:
        body.update(resolved_id=matches[0]["resolved_id"], cluster_size=matches[0]["cluster_size"])
    return body


def lookup_bytes(service: Service, index: SnapshotIndex, identifier_type: str, raw: str) -> tuple[bytes, str]:
    """(the answer as JSON, its status), through the cache when the value can link."""
    if not _known_type(index, identifier_type):
        body = _result(index, 0, identifier_type, None, "unknown_identifier_type")
        return _dumps(body), "unknown_identifier_type"
    norm, status = index.normaliser.normalise(identifier_type, raw)
    if status != "ok":
        return _dumps(_result(index, service.settings.records_max, identifier_type, norm, status)), status
    key = cache_key(index.version, identifier_type, norm)
    cached = service.cache.get(key)
    if cached is not None:  # "<status>\n<answer>"
        status, _, data = cached.partition(b"\n")
        return data, status.decode()
    body = _result(index, service.settings.records_max, identifier_type, norm, status)
    data = _dumps(body)
    service.cache.put(key, body["status"].encode() + b"\n" + data)
    return data, body["status"]


_STATUS_ERRORS = {
    "invalid": "the value is not a valid {t} once normalised, so it links no records",
    "placeholder": "the value is a placeholder (see placeholder_values), so it links no records",
    "excluded": "the value is excluded for {t} (idr_meta.identifier_exclusion), so it links no records",
}


@router.get("/lookup", response_model=LookupResult, responses=documented(401, 403, 404, 422, 429, 503),
            summary="Find the cluster holding an identifier value")
async def lookup(ctx: LookupCtx,
                 type: Annotated[str, Query(min_length=1, max_length=MAX_NAME, description="identifier type, e.g. EMAIL")],
                 value: Annotated[str, Query(min_length=1, max_length=MAX_VALUE,
                                             description="the value as you have it: normalised as the served run did")]):
    """The value is normalised exactly as the run that produced the served results
    normalised it (so ` Jane@X.COM ` finds `jane@x.com`). 404 when nothing can be found:
    no record holds the value (`not_found`), it cannot link (`value_invalid`,
    `value_placeholder`, `value_excluded`), or the served run has no such type
    (`unknown_identifier_type`)."""
    return lookup_response(ctx.service, ctx.index, type, value)


def lookup_response(service: Service, index: SnapshotIndex, identifier_type: str, value: str) -> Response:
    """GET /v1/lookup's answer (or the ApiError to answer), for the route and its fast path."""
    if not _known_type(index, identifier_type):
        raise _unknown_type(index)
    data, status = lookup_bytes(service, index, identifier_type, value)
    if status == "not_found":
        raise ApiError(404, "not_found", f"no record holds this {identifier_type} value in snapshot {index.version}")
    if status in _STATUS_ERRORS:
        raise ApiError(404, f"value_{status}", _STATUS_ERRORS[status].format(t=identifier_type))
    return Response(data, media_type="application/json")


@router.post("/lookup/batch", response_model=BatchResult, responses=documented(400, 401, 403, 415, 422, 429, 503),
             summary="Up to 1,000 lookups in one request")
async def lookup_batch(ctx: BatchCtx, body: BatchRequest):
    """Each lookup answers as GET /v1/lookup would, with its status in the result
    (found, not_found, invalid, placeholder, excluded, unknown_identifier_type) instead
    of an error. All answers come from one snapshot."""
    service, index = ctx.service, ctx.index
    if len(body.lookups) > service.settings.batch_max:
        raise ApiError(422, "batch_too_large", f"at most {service.settings.batch_max} lookups per request")
    parts = [lookup_bytes(service, index, item.type, item.value)[0] for item in body.lookups]
    snapshot = json.dumps(index.version).encode()
    return Response(b'{"results":[' + b",".join(parts) + b'],"snapshot":' + snapshot + b"}",
                    media_type="application/json")
