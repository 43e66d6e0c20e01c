"""The identity vault (``/v1/vault``): custodians, sets, disclosures, rotations.

Who may call what (the role is read from chain at every request; see ``api.auth``):

- ``GET /v1/vault`` is public: the chain and contract approvals are for, and whether each
  record kind can take identities (the reporter pages' feature flag).
- ``GET /v1/vault/custodian-set/{kind}`` is public: the keys a reporter's device seals an
  identity to, with each registration signature, so the device checks them against the chain.
- Custodians (CUSTODIAN_ROLE) register, decide on requests, fetch their sealed shares and
  upload re-sealed ones, and run rotations.
- Investigators (REVIEWER_ROLE) file requests and fetch the shares re-sealed to them.
- Administrators (DEFAULT_ADMIN_ROLE) configure custodian sets and (de)activate custodians.
- Oversight listings (requests with every approval and decline, custodians, sets, records,
  rotations) are open to any signed-in desk role: a session whose address still holds
  REVIEWER_ROLE, CUSTODIAN_ROLE or DEFAULT_ADMIN_ROLE on chain. An oversight body signs in with
  one of those.

Anonymous callers get 401, callers without the role 403. The service checks the part a caller
plays on top (a custodian of this record, the requester, the coordinator): 403 as well.
Sync handlers: FastAPI runs them in its thread pool (they wait on the database and the chain).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from starlette.responses import Response

from api.auth import AdminDep, CustodianDep, ReviewerDep, SessionDep
from api.deps import ServiceDep
from api.models import EXAMPLE_COMMITMENT, HEX32
from api.responses import JSONBytes, error_responses
from api.vault_models import (
    EXAMPLE_RECORD_ID,
    ActiveBody,
    ApprovalBody,
    ChainState,
    ContributionBody,
    CustodianModel,
    CustodianSetModel,
    DeclineBody,
    FinishBody,
    RecordInfo,
    RegistrationBody,
    RequestBody,
    RequestModel,
    ResealedBody,
    ResealedSharesModel,
    RotationBody,
    RotationContributions,
    RotationModel,
    RotationShares,
    SealedShareModel,
    SealingSetModel,
    SetBody,
    VaultInfo,
)
from ledger.auth.sessions import ADMIN_ROLE, CUSTODIAN_ROLE, SIGN_IN_ROLES, Session
from ledger.core.encoding import from_hex
from ledger.errors import PermissionDeniedError, ProtocolError
from ledger.service import LedgerService
from ledger.vault.service import parse_kind

router = APIRouter(tags=["identity vault"])
State = Literal["pending", "approved", "declined", "recorded", "superseded"]

# What a vault refusal means, where it is narrower than the API's table (api.responses).
_SAID = {
    403: "The address lacks the role on chain, or has no part in this item.",
    404: "No such custodian, record, request or rotation.",
}


def _errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """Every vault route but the public one can also answer 401, 403 and 503."""
    return error_responses(401, 403, *codes, 503, said=_SAID)


MAX_ID = 2**31 - 1  # the tables' integer keys
RequestId = Annotated[
    int, Path(ge=1, le=MAX_ID, description="The disclosure request's number.", examples=[7])
]
RotationId = Annotated[
    int, Path(ge=1, le=MAX_ID, description="The rotation's number.", examples=[1])
]


def _hex(value: str, length: int | None, name: str) -> bytes:
    try:
        return from_hex(value, length)
    except ProtocolError as exc:
        raise ProtocolError(f"{name}: {exc}") from None


def _desk(service: LedgerService, session: Session) -> None:
    """Oversight reads: any desk role the address still holds on chain."""
    if not service.sessions.roles.held(session.address):
        raise PermissionDeniedError(
            f"{session.address} holds none of {', '.join(SIGN_IN_ROLES)} on chain now"
        )


# --- public ------------------------------------------------------------------------------------


@router.get(
    "/v1/vault",
    response_model=VaultInfo,
    summary="What the vault takes",
    description="The chain and contract custodians' approvals are for, the contract's "
    "disclosure threshold, and for each record kind whether identities can be given (it has a "
    "custodian set), with its threshold and number of custodians.",
    responses=error_responses(503),
)
def vault_info(service: ServiceDep) -> Response:
    return JSONBytes(service.vault.info())


@router.get(
    "/v1/vault/custodian-set/{kind}",
    response_model=SealingSetModel,
    summary="The keys a device seals an identity to",
    description="The kind's current custodian set in share order, with each custodian's X25519 "
    "key, address and registration signature, and the threshold. A reporter's device (browser "
    "or CLI) seals an identity record (tipledger-identity-record/2) to these keys, after "
    "checking that each signature recovers to its address for this chain and contract and that "
    "each address holds CUSTODIAN_ROLE on chain: it does not take the service's word alone. "
    "409 if the kind has no custodian set.",
    responses=error_responses(409, 422, 503),
)
def custodian_set(
    kind: Annotated[
        Literal["reporter", "witness"], Path(description="The record kind.", examples=["reporter"])
    ],
    service: ServiceDep,
) -> Response:
    return JSONBytes(service.vault.custodian_set(kind))


# --- custodians and sets -----------------------------------------------------------------------


@router.get(
    "/v1/vault/custodians",
    response_model=list[CustodianModel],
    summary="List custodians",
    description="Every registered custodian with its public keys and registration signature, "
    "so anyone can check that the X25519 key belongs to the address (any desk role).",
    responses=_errors(),
)
def list_custodians(session: SessionDep, service: ServiceDep) -> Response:
    _desk(service, session)
    return JSONBytes(service.vault.custodians())


@router.post(
    "/v1/vault/custodians",
    status_code=201,
    response_model=CustodianModel,
    summary="Register as a custodian",
    description="The signed-in custodian (CUSTODIAN_ROLE, granted by the admin on chain) "
    "registers its X25519 public key for shares, proving with an EIP-191 signature of its "
    "address over the registration statement that it holds both keys. Once per custodian.",
    responses=_errors(409, 422),
)
def register_custodian(
    body: RegistrationBody, session: CustodianDep, service: ServiceDep
) -> Response:
    signature = _hex(body.signature, 65, "signature")
    created = service.vault.register_custodian(
        session.address, body.registration, signature, body.name
    )
    return JSONBytes(created, status_code=201)


@router.get(
    "/v1/vault/custodians/me",
    response_model=CustodianModel,
    summary="My registration",
    responses=_errors(404),
)
def my_registration(session: CustodianDep, service: ServiceDep) -> Response:
    return JSONBytes(service.vault.custodian_of(session.address))


@router.post(
    "/v1/vault/custodians/{key_id}/active",
    response_model=CustodianModel,
    summary="Activate or deactivate a custodian",
    description="An inactive custodian cannot join a new set, decide, or re-seal (admin).",
    responses=_errors(404, 422),
)
def set_active(
    key_id: Annotated[str, Path(pattern="^[0-9a-f]{16}$", examples=["3f9a0c1d2e4b5a69"])],
    body: ActiveBody,
    _admin: AdminDep,
    service: ServiceDep,
) -> Response:
    return JSONBytes(service.vault.set_custodian_active(key_id, body.active))


@router.get(
    "/v1/vault/sets",
    response_model=list[CustodianSetModel],
    summary="List custodian sets",
    description="Every version of every kind's custodian set, the current one marked, with "
    "the number of records sealed to each (any desk role).",
    responses=_errors(),
)
def list_sets(session: SessionDep, service: ServiceDep) -> Response:
    _desk(service, session)
    return JSONBytes(service.vault.sets())


@router.post(
    "/v1/vault/sets",
    status_code=201,
    response_model=CustodianSetModel,
    summary="Configure a kind's custodian set",
    description="A new version of the reporter's or witness's custodian set: k of the n "
    "custodians (in share order) open a record. Every custodian must be registered, active and "
    "hold CUSTODIAN_ROLE; n must reach the contract's disclosure threshold. New identities are "
    "sealed to it at once; older records move to it by a rotation (admin).",
    responses=_errors(404, 409, 422),
)
def configure_set(body: SetBody, session: AdminDep, service: ServiceDep) -> Response:
    created = service.vault.configure_set(
        session.address, body.kind, body.threshold, body.custodians
    )
    return JSONBytes(created, status_code=201)


@router.get(
    "/v1/vault/records",
    response_model=list[RecordInfo],
    summary="A tip's identity records",
    description="The identity records stored with a tip (no ciphertext), to file a request "
    "(any desk role).",
    responses=_errors(422),
)
def records_of_tip(
    commitment: Annotated[str, Query(pattern=HEX32, examples=[EXAMPLE_COMMITMENT])],
    session: SessionDep,
    service: ServiceDep,
) -> Response:
    _desk(service, session)
    return JSONBytes(service.vault.records_of(_hex(commitment, 32, "commitment")))


@router.get(
    "/v1/vault/records/{record_id}",
    response_model=RecordInfo,
    summary="An identity record",
    responses=_errors(404, 422),
)
def record_info(
    record_id: Annotated[str, Path(pattern=HEX32, examples=[EXAMPLE_RECORD_ID])],
    session: SessionDep,
    service: ServiceDep,
) -> Response:
    _desk(service, session)
    return JSONBytes(service.vault.record(_hex(record_id, 32, "record_id")))


# --- disclosure requests -----------------------------------------------------------------------


@router.post(
    "/v1/vault/requests",
    status_code=201,
    response_model=RequestModel,
    summary="File a disclosure request",
    description="An investigator (REVIEWER_ROLE) asks for a record's identity, saying why, "
    "with the X25519 public key the shares are to be re-sealed to. The service fixes filed_at "
    "and the request digest custodians sign over.",
    responses=_errors(404, 409, 422),
)
def file_request(body: RequestBody, session: ReviewerDep, service: ServiceDep) -> Response:
    created = service.vault.disclosures.file(
        session.address,
        _hex(body.record_id, 32, "record_id"),
        body.purpose,
        _hex(body.investigator_key, 32, "investigator_key"),
    )
    return JSONBytes(created, status_code=201)


@router.get(
    "/v1/vault/requests",
    response_model=list[RequestModel],
    summary="List disclosure requests (oversight)",
    description="Every request with every approval (and its signature) and decline (and its "
    "reason). `awaiting=true`: the open ones the signed-in custodian holds a share for and has "
    "not decided; `mine=true`: the ones the signed-in address filed (any desk role).",
    responses=_errors(422),
)
def list_requests(
    session: SessionDep,
    service: ServiceDep,
    state: Annotated[State | None, Query(examples=["pending"])] = None,
    awaiting: Annotated[bool, Query(examples=[True])] = False,
    mine: Annotated[bool, Query(examples=[False])] = False,
) -> Response:
    _desk(service, session)
    found = service.vault.disclosures.listing(
        state=state,
        awaiting=session.address if awaiting else None,
        requester=session.address if mine else None,
    )
    return JSONBytes(found)


@router.get(
    "/v1/vault/requests/{request_id}",
    response_model=RequestModel,
    summary="A disclosure request",
    responses=_errors(404),
)
def get_request(request_id: RequestId, session: SessionDep, service: ServiceDep) -> Response:
    _desk(service, session)
    return JSONBytes(service.vault.disclosures.get(request_id))


@router.post(
    "/v1/vault/requests/{request_id}/approvals",
    response_model=RequestModel,
    summary="Approve a disclosure request",
    description="A custodian of the record's set approves with its EIP-712 Disclosure "
    "signature, which must recover to the signed-in address. Each custodian decides once.",
    responses=_errors(404, 409, 422),
)
def approve(
    request_id: RequestId, body: ApprovalBody, session: CustodianDep, service: ServiceDep
) -> Response:
    signature = _hex(body.signature, 65, "signature")
    return JSONBytes(service.vault.disclosures.approve(session.address, request_id, signature))


@router.post(
    "/v1/vault/requests/{request_id}/declines",
    response_model=RequestModel,
    summary="Decline a disclosure request",
    description="A custodian of the record's set declines, with a reason for the record.",
    responses=_errors(404, 409, 422),
)
def decline(
    request_id: RequestId, body: DeclineBody, session: CustodianDep, service: ServiceDep
) -> Response:
    return JSONBytes(service.vault.disclosures.decline(session.address, request_id, body.reason))


@router.get(
    "/v1/vault/requests/{request_id}/chain",
    response_model=ChainState,
    summary="The request's on-chain state",
    description="isDisclosed(recordId, requestDigest) and the DisclosureApproved event, read "
    "from the chain now (any desk role).",
    responses=_errors(404, 502),
)
def chain_state(request_id: RequestId, session: SessionDep, service: ServiceDep) -> Response:
    _desk(service, session)
    return JSONBytes(service.vault.disclosures.chain_state(request_id))


@router.get(
    "/v1/vault/requests/{request_id}/share",
    response_model=SealedShareModel,
    summary="My sealed share, for re-sealing",
    description="An approving custodian's sealed share of the record, only once the disclosure "
    "is recorded on chain (409 before).",
    responses=_errors(404, 409),
)
def sealed_share(request_id: RequestId, session: CustodianDep, service: ServiceDep) -> Response:
    return JSONBytes(service.vault.disclosures.sealed_share(session.address, request_id))


@router.post(
    "/v1/vault/requests/{request_id}/resealed",
    response_model=RequestModel,
    summary="Upload my re-sealed share",
    description="An approving custodian's share, re-sealed on its machine to the investigator "
    "key the request names; refused unless the disclosure is recorded on chain.",
    responses=_errors(404, 409, 422),
)
def upload_resealed(
    request_id: RequestId, body: ResealedBody, session: CustodianDep, service: ServiceDep
) -> Response:
    resealed = _hex(body.resealed, None, "resealed")
    return JSONBytes(service.vault.disclosures.add_resealed(session.address, request_id, resealed))


@router.get(
    "/v1/vault/requests/{request_id}/resealed",
    response_model=ResealedSharesModel,
    summary="The shares re-sealed to me",
    description="For the requester only, once recorded on chain: the identity record and the "
    "shares re-sealed to the investigator's key. Only the investigator's machine opens them.",
    responses=_errors(404, 409),
)
def fetch_resealed(request_id: RequestId, session: ReviewerDep, service: ServiceDep) -> Response:
    return JSONBytes(service.vault.disclosures.resealed_shares(session.address, request_id))


# --- rotations ---------------------------------------------------------------------------------


@router.get(
    "/v1/vault/rotations",
    response_model=list[RotationModel],
    summary="List rotations",
    responses=_errors(),
)
def list_rotations(session: SessionDep, service: ServiceDep) -> Response:
    _desk(service, session)
    return JSONBytes(service.vault.rotations.listing())


@router.post(
    "/v1/vault/rotations",
    status_code=201,
    response_model=RotationModel,
    summary="Start a rotation",
    description="A custodian of the kind's current set starts moving the kind's older records "
    "to it, as their coordinator; one rotation per kind at a time.",
    responses=_errors(409, 422),
)
def start_rotation(body: RotationBody, session: CustodianDep, service: ServiceDep) -> Response:
    started = service.vault.rotations.start(session.address, parse_kind(body.kind))
    return JSONBytes(started, status_code=201)


@router.get(
    "/v1/vault/rotations/{rotation_id}",
    response_model=RotationModel,
    summary="A rotation",
    responses=_errors(404),
)
def get_rotation(rotation_id: RotationId, session: SessionDep, service: ServiceDep) -> Response:
    _desk(service, session)
    return JSONBytes(service.vault.rotations.get(rotation_id))


@router.get(
    "/v1/vault/rotations/{rotation_id}/shares",
    response_model=RotationShares,
    summary="My shares to contribute",
    description="The signed-in custodian's sealed shares of the records the rotation moves, "
    "not yet contributed.",
    responses=_errors(404, 409),
)
def rotation_shares(
    rotation_id: RotationId, session: CustodianDep, service: ServiceDep
) -> Response:
    return JSONBytes(service.vault.rotations.my_shares(session.address, rotation_id))


@router.post(
    "/v1/vault/rotations/{rotation_id}/contributions",
    response_model=RotationModel,
    summary="Contribute my shares",
    description="The custodian's shares, each re-sealed on its machine to the coordinator's "
    "key for the rotation digest.",
    responses=_errors(404, 409, 422),
)
def contribute(
    rotation_id: RotationId, body: ContributionBody, session: CustodianDep, service: ServiceDep
) -> Response:
    items = [
        (_hex(s.record_id, 32, "record_id"), _hex(s.resealed, None, "resealed"))
        for s in body.shares
    ]
    return JSONBytes(service.vault.rotations.contribute(session.address, rotation_id, items))


@router.get(
    "/v1/vault/rotations/{rotation_id}/contributions",
    response_model=RotationContributions,
    summary="The contributions (coordinator)",
    responses=_errors(404, 409),
)
def contributions(rotation_id: RotationId, session: CustodianDep, service: ServiceDep) -> Response:
    return JSONBytes(service.vault.rotations.contributions(session.address, rotation_id))


@router.post(
    "/v1/vault/rotations/{rotation_id}/finish",
    response_model=RotationModel,
    summary="Finish a rotation (coordinator)",
    description="The re-shared records replace the old ones, checked against the target set; "
    "the old sealed shares are deleted and unfinished requests on them superseded.",
    responses=_errors(404, 409, 422),
)
def finish(
    rotation_id: RotationId, body: FinishBody, session: CustodianDep, service: ServiceDep
) -> Response:
    return JSONBytes(service.vault.rotations.finish(session.address, rotation_id, body.records))


@router.post(
    "/v1/vault/rotations/{rotation_id}/cancel",
    response_model=RotationModel,
    summary="Cancel a rotation",
    description="By its coordinator or an administrator; its contributions are deleted.",
    responses=_errors(404, 409),
)
def cancel(rotation_id: RotationId, session: SessionDep, service: ServiceDep) -> Response:
    roles = service.sessions.roles
    is_admin = roles.has(ADMIN_ROLE, session.address)
    if not is_admin and not roles.has(CUSTODIAN_ROLE, session.address):
        raise PermissionDeniedError(
            f"{session.address} holds neither DEFAULT_ADMIN_ROLE nor CUSTODIAN_ROLE on chain"
        )
    return JSONBytes(
        service.vault.rotations.cancel(session.address, rotation_id, is_admin=is_admin)
    )
