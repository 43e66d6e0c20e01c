"""``/healthz`` (liveness and the sequencer's state) and ``/metrics`` (Prometheus)."""

from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter, Request
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.responses import Response

from api.deps import ServiceDep
from api.models import HealthModel
from api.responses import JSONBytes
from ledger.ops.metrics import public_health

router = APIRouter(tags=["operations"])


@router.get(
    "/healthz",
    response_model=HealthModel,
    summary="Health",
    description="200 while the service accepts submissions and can anchor them, 503 when tips "
    "cannot be anchored (anchoring halted, the sequencer not running or unable to start, the "
    "chain unavailable) or are not accepted; `ok` is false then and `reason` says why "
    "(`sequencer.halted` is true when anchoring was refused).",
    responses={
        503: {"model": HealthModel, "description": "Tips cannot be anchored now: see `reason`."}
    },
)
def healthz(service: ServiceDep) -> Response:
    health = public_health(service)  # counts as of the last second boundary
    return JSONBytes(asdict(health), status_code=200 if health.ok else 503)


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {"example": "tipledger_log_size 64.0\n"}}}},
)
def metrics(request: Request) -> Response:
    return Response(generate_latest(request.app.state.metrics), media_type=CONTENT_TYPE_LATEST)
