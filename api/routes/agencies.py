"""The agencies on this channel and their members' keys (public), as the chain lists them.

A client that seals to these keys should read them from the contract itself (``members``), as
the pages do; this listing is for people and for tools that trust this service.
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Path, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from api.assets import accepts_gzip, compress
from api.deps import ServiceDep
from api.models import AGENCY, EXAMPLE_SIGNER
from api.responses import JSONBytes, error_responses
from ledger.chain.contract import AgencyInfo
from ledger.core.agency import agency_id, agency_slug
from ledger.core.encoding import to_hex
from ledger.core.hpke import key_id
from ledger.errors import NotFoundError
from ledger.service import LedgerService

router = APIRouter(prefix="/v1/agencies", tags=["agencies"])


class MemberModel(BaseModel):
    address: str = Field(description="Signs reviews and referrals, and signs in.")
    encryption_key: str = Field(description="Raw X25519 public key (0x hex): opens cases.")
    key_id: str = Field(description="First 8 bytes of SHA-256 over it, 16 hex digits.")


class AgencyModel(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "intake",
                    "name_th": "ศูนย์รับเรื่องร้องเรียนกลาง",
                    "name_en": "National intake desk",
                    "active": True,
                    "members": [
                        {
                            "address": EXAMPLE_SIGNER,
                            "encryption_key": "0x" + "5a" * 32,
                            "key_id": "0b1c2d3e4f5a6b7c",
                        }
                    ],
                }
            ]
        }
    )

    id: str
    name_th: str
    name_en: str
    active: bool
    members: list[MemberModel]


class AgencyList(BaseModel):
    agencies: list[AgencyModel]


def _view(service: LedgerService, info: AgencyInfo) -> dict[str, Any]:
    return {
        "id": agency_slug(info.agency),
        "name_th": info.name_th,
        "name_en": info.name_en,
        "active": info.active,
        "members": [
            {
                "address": m.address,
                "encryption_key": to_hex(m.encryption_key),
                "key_id": key_id(m.encryption_key),
            }
            for m in service.agencies.members(info.agency)
        ],
    }


@router.get(
    "",
    response_model=AgencyList,
    summary="The agencies",
    description="Every agency on this channel, active or not, with its current members' keys "
    "(read from chain at most a second ago).",
    responses=error_responses(502, 503),
)
async def agencies(request: Request, service: ServiceDep) -> Response:
    def read() -> dict[str, Any]:
        return {"agencies": [_view(service, i) for i in service.agencies.agencies()]}

    body = orjson.dumps(await run_in_threadpool(read))
    # The submit page reads this on a reporter's phone: compressed, as the page's own files are.
    packed = compress(body) if accepts_gzip(request) else None
    headers = {"Vary": "Accept-Encoding"}
    if packed is None:
        return JSONBytes(body, headers=headers)
    return JSONBytes(packed, headers={**headers, "Content-Encoding": "gzip"})


@router.get(
    "/{agency}",
    response_model=AgencyModel,
    summary="One agency",
    responses=error_responses(404, 422, 502, 503),
)
async def agency(
    service: ServiceDep,
    agency: str = Path(examples=["intake"], json_schema_extra={"pattern": AGENCY}),
) -> Response:
    raw = agency_id(agency)

    def read() -> dict[str, Any]:
        info = service.agencies.info(raw)
        if info is None:
            raise NotFoundError(f"there is no agency {agency!r} on this channel")
        return _view(service, info)

    return JSONBytes(await run_in_threadpool(read))
