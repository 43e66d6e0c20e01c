"""``/healthz`` (liveness and the sequencer's state) and ``/metrics`` (Prometheus)."""

from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter, Request
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.responses import Response

from api.deps import ServiceDep
from api.models import HealthModel
from api.responses import JSONBytes

router = APIRouter(tags=["operations"])


@router.get(
    "/healthz",
    response_model=HealthModel,
    summary="Health",
    description="200 while the service accepts submissions, 503 when it does not. `ok` is "
    "false, and `sequencer.halted` true, when anchoring stopped (`sequencer.last_error` says "
    "why).",
    responses={503: {"model": HealthModel, "description": "Not accepting submissions."}},
)
def healthz(service: ServiceDep) -> Response:
    health = service.health()
    return JSONBytes(asdict(health), status_code=200 if health.accepting else 503)


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {"example": "tipledger_log_size 64.0\n"}}}},
)
def metrics(request: Request) -> Response:
    return Response(generate_latest(request.app.state.metrics), media_type=CONTENT_TYPE_LATEST)
