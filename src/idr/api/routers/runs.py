"""GET /v1/runs and GET /v1/runs/{run_id}: the run history published with the snapshot."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Path, Query
from starlette.responses import Response

from ..deps import ReadCtx
from ..errors import ApiError, documented
from ..models import MAX_NAME, RunDetail, RunList

router = APIRouter(prefix="/v1", tags=["runs"])


def _json(body: dict) -> Response:
    return Response(json.dumps(body, separators=(",", ":"), default=lambda v: v.isoformat()
                               if hasattr(v, "isoformat") else str(v)), media_type="application/json")


@router.get("/runs", response_model=RunList, responses=documented(401, 403, 422, 429, 503),
            summary="Recent runs, newest first")
async def runs(ctx: ReadCtx,
               limit: Annotated[int, Query(ge=1, le=1000)] = 20):
    return _json({"runs": ctx.index.runs[:limit], "snapshot": ctx.index.version})


@router.get("/runs/{run_id}", response_model=RunDetail, responses=documented(401, 403, 404, 422, 429, 503),
            summary="One run with its stage metrics")
async def run(ctx: ReadCtx, run_id: Annotated[str, Path(min_length=1, max_length=MAX_NAME)]):
    index = ctx.index
    found = index.run(run_id)
    if found is None:
        raise ApiError(404, "not_found", f"no such run_id in snapshot {index.version}")
    return _json({**found, "stages": index.stages.get(run_id, []), "snapshot": index.version})
