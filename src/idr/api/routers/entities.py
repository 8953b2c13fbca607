"""GET /v1/entities/{entity_key} and GET /v1/clusters/{resolved_id}."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Path, Query
from starlette.responses import Response

from ..deps import ReadCtx
from ..errors import ApiError, documented
from ..models import MAX_NAME, Cluster, Entity

router = APIRouter(prefix="/v1", tags=["entities"])


def _json(body: dict) -> Response:
    return Response(json.dumps(body, separators=(",", ":"), default=str), media_type="application/json")


def _identifiers(rows) -> list[dict]:
    return [{"identifier_type": t, "value": v, "skipped_group": s} for t, v, s in rows]


@router.get("/entities/{entity_key}", response_model=Entity, responses=documented(401, 403, 404, 422, 429, 503),
            summary="One record: its cluster and identifiers")
async def entity(ctx: ReadCtx,
                 entity_key: Annotated[str, Path(min_length=1, max_length=MAX_NAME,
                                                 description="table_id:key, e.g. crm:C000042")]):
    index = ctx.index
    pos = index.member_of(entity_key)
    if pos is None:
        raise ApiError(404, "not_found", f"no such entity_key in snapshot {index.version} "
                       "(keys look like table_id:key, e.g. crm:C000042)")
    m = index.member(pos)
    return _json({"entity_key": m.entity_key, "table_id": m.table_id,
                  "resolved_id": index.cluster_rid[m.cluster].as_py(), "cluster_size": int(index.cluster_size[m.cluster]),
                  "identifiers": _identifiers(index.identifiers_of([pos])), "snapshot": index.version})


@router.get("/clusters/{resolved_id}", response_model=Cluster, responses=documented(401, 403, 404, 422, 429, 503),
            summary="One cluster: members, identifiers, golden profile")
async def cluster(ctx: ReadCtx,
                  resolved_id: Annotated[str, Path(min_length=1, max_length=MAX_NAME)],
                  limit: Annotated[int, Query(ge=1, le=10_000, description="members listed at most")] = 100):
    index = ctx.index
    c = index.cluster_of(resolved_id)
    if c is None:
        raise ApiError(404, "not_found", f"no such resolved_id in snapshot {index.version}")
    positions = index.cluster_member_positions(c, limit)
    members = [index.member(p) for p in positions]
    return _json({"resolved_id": resolved_id, "cluster_size": int(index.cluster_size[c]),
                  "members": sorted(({"entity_key": m.entity_key, "table_id": m.table_id} for m in members),
                                    key=lambda r: r["entity_key"]),
                  "members_truncated": len(members) < int(index.cluster_size[c]),
                  "identifiers": _identifiers(index.identifiers_of(positions)),
                  "golden_profile": index.golden_of(resolved_id), "snapshot": index.version})
