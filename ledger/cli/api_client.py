"""The CLI as a client of a running service (``submit --api``, ``verify --api``), over httpx.

The client trusts the service for nothing it can check: the tip is sealed here before it is sent
(``ledger.device``, to the members' keys read from the chain), and the receipt it gets back must
name exactly the commitment made here before it is kept.
"""

from __future__ import annotations

import base64
import contextlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
from eth_account.messages import encode_defunct
from eth_account.signers.local import LocalAccount

from ledger.auth.sessions import Challenge
from ledger.core.encoding import checksum_address, from_hex, to_hex
from ledger.core.receipt import Receipt
from ledger.device import DeviceTip
from ledger.errors import LedgerError, ProtocolError, ReceiptError

POLL_INTERVAL = 0.25


class ServiceError(LedgerError):
    """The service could not be reached, or refused the request (its ``detail`` is kept)."""


class CodeTakenError(ServiceError):
    """409 for a tip with a code: another tip has its first six symbols (make a new code)."""


def _client(base_url: str, timeout: float) -> httpx.Client:
    if not base_url.startswith(("http://", "https://")):
        raise ServiceError(f"--api must be an http(s):// URL, got {base_url!r}")
    return httpx.Client(base_url=base_url.rstrip("/"), timeout=timeout)


def _detail(response: httpx.Response) -> str:
    try:
        data = response.json()
    except ValueError:
        return response.text[:200] or response.reason_phrase
    if isinstance(data, dict) and isinstance(data.get("detail"), str):
        return str(data["detail"])
    return str(data)[:200]


def _request(client: httpx.Client, method: str, path: str, **kwargs: Any) -> httpx.Response:
    try:
        return client.request(method, path, **kwargs)
    except httpx.HTTPError as exc:
        raise ServiceError(f"cannot reach the service at {client.base_url}: {exc}") from exc


@dataclass(frozen=True)
class Submitted:
    """A receipt and what came with it: the follow-up secret, kept in the receipt file."""

    receipt: Receipt
    follow_up: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        data = self.receipt.to_dict()
        if self.follow_up is not None:
            data["follow_up"] = dict(self.follow_up)  # verifiers ignore fields they do not know
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False)


def submit(
    base_url: str,
    tip: DeviceTip,
    *,
    wait: float = 60.0,
    http_timeout: float = 30.0,
    on_pending: Callable[[Receipt], None] | None = None,
    follow_up_secret: str | None = None,
    follow_up_code: str | None = None,
) -> Submitted:
    """POST a tip sealed on this device, check the answer, then poll until it is anchored or
    ``wait`` runs out.

    The service answers with the promise and the receipt's public part; the salt, content
    digest and author are this device's and go into the receipt here (the service never had
    them). Returns the receipt, anchored (``inclusion`` set) or, after ``wait`` seconds, still
    pending, with the follow-up secret or the code made on this device, if any (a code whose
    locator another tip has: ``CodeTakenError``, nothing stored).
    """
    body = tip.sealed.to_json()
    with _client(base_url, http_timeout) as client:
        if tip.streams:
            files = [("tip", ("tip.json", json.dumps(body).encode(), "application/json"))]
            files += [
                ("attachment", (f"{i}.sealed", stream, "application/octet-stream"))
                for i, stream in enumerate(tip.streams)
            ]
            response = _request(client, "POST", "/v1/tips", files=files)
        else:
            response = _request(client, "POST", "/v1/tips", json=body)
        if response.status_code == 409 and follow_up_code is not None:
            raise CodeTakenError(f"the service refused the code: {_detail(response)}")
        if response.status_code != 202:
            raise ServiceError(
                f"the service refused the tip ({response.status_code}): {_detail(response)}"
            )
        try:
            answer = response.json()
            public = dict(answer.get("receipt"))
            public.update(
                salt=to_hex(tip.salt),
                content_digest=to_hex(tip.content_digest),
                author=checksum_address(tip.author),
            )
            receipt = Receipt.from_dict(public)
        except (ValueError, AttributeError, TypeError, ReceiptError) as exc:
            raise ServiceError(f"the service's answer is not a receipt: {exc}") from None
        _check_receipt(receipt, tip.commitment, tip.salt, tip.content_digest)
        # The case key made here goes with the secret: answers are sealed to it and no other.
        secret: dict[str, Any] | None = None
        if follow_up_code is not None:  # the code pins the case key itself (its tag)
            secret = {"code": follow_up_code}
        elif follow_up_secret is not None:
            secret = {"secret": follow_up_secret, "case_key": to_hex(tip.sealed.case_key)}
        if on_pending is not None:
            on_pending(receipt)
        deadline = time.monotonic() + wait
        while True:
            anchored = fetch_inclusion(client, receipt)
            if anchored is not None:
                return Submitted(anchored, secret)
            if time.monotonic() >= deadline:
                return Submitted(receipt, secret)
            time.sleep(POLL_INTERVAL)


def _check_receipt(receipt: Receipt, expected: bytes, salt: bytes, digest: bytes) -> None:
    if receipt.commitment_bytes != expected:
        raise ProtocolError(
            f"the service's receipt names commitment {receipt.commitment}, but this tip's is "
            f"{to_hex(expected)}: refusing it"
        )
    if receipt.salt_bytes != salt or receipt.content_digest_bytes != digest:
        raise ProtocolError("the service's receipt does not hold this tip's salt and digest")


def web_config(base_url: str, *, http_timeout: float = 10.0) -> dict[str, Any]:
    """The service's ``/web-config.json`` (chain id, contract, a suggested RPC URL)."""
    with _client(base_url, http_timeout) as client:
        response = _request(client, "GET", "/web-config.json")
        if response.status_code != 200:
            raise ServiceError(
                f"the service's configuration is unavailable ({response.status_code}): "
                f"{_detail(response)}"
            )
        try:
            data = response.json()
            int(data["chain_id"]), str(data["contract"])
        except (ValueError, KeyError, TypeError) as exc:
            raise ServiceError(f"the service's configuration is malformed: {exc}") from None
    return dict(data)


def code_tip(base_url: str, locator: str, *, http_timeout: float = 10.0) -> bytes:
    """``GET /v1/codes/{locator}``: the commitment of the tip a code's first six symbols find."""
    with _client(base_url, http_timeout) as client:
        response = _request(client, "GET", f"/v1/codes/{locator}")
    if response.status_code != 200:
        raise ServiceError(
            f"the service finds no tip for this code ({response.status_code}): {_detail(response)}"
        )
    try:
        return from_hex(str(response.json()["commitment"]), 32)
    except (ValueError, KeyError, TypeError, ProtocolError) as exc:
        raise ServiceError(f"the service's answer is not a commitment: {exc}") from None


def receipt_status(
    base_url: str, commitment: bytes, *, http_timeout: float = 30.0
) -> dict[str, Any]:
    """``GET /v1/tips/{commitment}/receipt``: the receipt's public part (200 anchored, 202
    pending), as the service holds it."""
    with _client(base_url, http_timeout) as client:
        response = _request(client, "GET", f"/v1/tips/{to_hex(commitment)}/receipt")
    if response.status_code not in (200, 202):
        raise ServiceError(
            f"fetching the receipt failed ({response.status_code}): {_detail(response)}"
        )
    try:
        data: dict[str, Any] = dict(response.json())
    except (ValueError, TypeError) as exc:
        raise ServiceError(f"the service's receipt is not JSON: {exc}") from None
    return data


def custodian_set(base_url: str, kind: str, *, http_timeout: float = 10.0) -> dict[str, Any]:
    """``GET /v1/vault/custodian-set/{kind}``: the service's word, to check on chain before any
    identity is sealed to it (``ledger.vault.client.checked_custodian_set``). No credential."""
    with _client(base_url, http_timeout) as client:
        response = _request(client, "GET", f"/v1/vault/custodian-set/{kind}")
    if response.status_code != 200:
        raise ServiceError(
            f"the service has no {kind} custodian set to seal to ({response.status_code}): "
            f"{_detail(response)}"
        )
    data: dict[str, Any] = response.json()
    return data


def fetch_inclusion(client: httpx.Client, receipt: Receipt) -> Receipt | None:
    """The receipt with its inclusion once anchored; None while pending."""
    response = _request(client, "GET", f"/v1/tips/{receipt.commitment}/receipt")
    if response.status_code == 202:
        return None
    if response.status_code != 200:
        raise ServiceError(
            f"fetching the receipt failed ({response.status_code}): {_detail(response)}"
        )
    data = response.json()
    merged = {**receipt.to_dict(), "inclusion": data.get("inclusion")}
    try:
        return Receipt.from_dict(merged)
    except ReceiptError as exc:
        raise ServiceError(f"the service's inclusion is malformed: {exc}") from None


def verify(
    base_url: str, receipt: Receipt, document: bytes | None, *, http_timeout: float = 30.0
) -> dict[str, Any]:
    """The service's verdict (``POST /v1/verify``) as its JSON."""
    body: dict[str, Any] = {"receipt": receipt.to_dict()}
    if document is not None:
        body["document"] = base64.b64encode(document).decode("ascii")
    with _client(base_url, http_timeout) as client:
        response = _request(client, "POST", "/v1/verify", json=body)
    if response.status_code != 200:
        raise ServiceError(
            f"the service could not verify ({response.status_code}): {_detail(response)}"
        )
    data: dict[str, Any] = response.json()
    return data


def sign_in(client: httpx.Client, account: LocalAccount) -> str:
    """Sign in with ``account`` (EIP-4361 over ``personal_sign``); the session's bearer token.

    The challenge is checked before signing: it must name the service the client talks to, so
    a message for another site is never signed here.
    """
    response = _request(client, "POST", "/v1/auth/challenge")
    if response.status_code != 200:
        raise ServiceError(f"the service refused to start a sign-in: {_detail(response)}")
    data = response.json()
    try:
        challenge = Challenge(**{k: data[k] for k in Challenge.__dataclass_fields__})
    except (KeyError, TypeError) as exc:
        raise ServiceError(f"the service's sign-in challenge is malformed: {exc}") from None
    if challenge.domain.lower() != client.base_url.netloc.decode("ascii").lower():
        raise ServiceError(
            f"the sign-in challenge names {challenge.domain}, not {client.base_url.host}: "
            "refusing to sign it"
        )
    text = challenge.message(account.address).to_text()
    signature = account.sign_message(encode_defunct(text=text)).signature
    response = _request(
        client,
        "POST",
        "/v1/auth/session",
        json={"message": text, "signature": to_hex(bytes(signature))},
    )
    if response.status_code != 200:
        raise ServiceError(f"sign-in refused ({response.status_code}): {_detail(response)}")
    token: str = response.json()["token"]
    return token


class DeskClient:
    """A signed-in client of the service: every request carries the session's bearer token.

    ``call`` answers the JSON of a 2xx response and raises ``ServiceError`` with the service's
    one-line ``detail`` for anything else.
    """

    def __init__(self, base_url: str, account: LocalAccount, *, timeout: float = 30.0) -> None:
        self.account = account
        self.http = _client(base_url, timeout)
        try:
            token = sign_in(self.http, account)
        except BaseException:
            self.http.close()
            raise
        self.http.headers["Authorization"] = f"Bearer {token}"

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = _request(self.http, method, path, **kwargs)
        if not 200 <= response.status_code < 300:
            raise ServiceError(
                f"{method} {path} refused ({response.status_code}): {_detail(response)}"
            )
        if response.status_code == 204 or not response.content:
            return None
        return response.json()

    def fetch(self, path: str, **kwargs: Any) -> bytes:
        """The body of a 2xx ``GET`` as bytes (a sealed attachment)."""
        response = _request(self.http, "GET", path, **kwargs)
        if not 200 <= response.status_code < 300:
            raise ServiceError(f"GET {path} refused ({response.status_code}): {_detail(response)}")
        return response.content

    def close(self) -> None:
        with contextlib.suppress(ServiceError):
            self.call("DELETE", "/v1/auth/session")
        self.http.close()

    def __enter__(self) -> DeskClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


class ReporterClient:
    """The holder of a tip's follow-up secret, as a client: no sign-in, no cookie.

    The secret goes in the Authorization header only (never in a URL).
    """

    def __init__(
        self, base_url: str, commitment: str, secret: str, *, timeout: float = 30.0
    ) -> None:
        self.commitment = commitment
        self.http = _client(base_url, timeout)
        self.http.headers["Authorization"] = f"Bearer {secret}"

    def _call(self, method: str, suffix: str, body: dict[str, Any] | None = None) -> Any:
        path = f"/v1/tips/{self.commitment}{suffix}"
        response = _request(self.http, method, path, json=body)
        if not 200 <= response.status_code < 300:
            raise ServiceError(f"the service refused ({response.status_code}): {_detail(response)}")
        return response.json()

    def status(self) -> dict[str, Any]:
        data: dict[str, Any] = self._call("GET", "/follow-up")
        return data

    def reply(self, text: str) -> dict[str, Any]:
        data: dict[str, Any] = self._call("POST", "/follow-up/messages", {"text": text})
        return data

    def add_identity(self, identity: dict[str, Any]) -> dict[str, Any]:
        data: dict[str, Any] = self._call("POST", "/identity", {"identity": identity})
        return data

    def send_sealed(self, body: dict[str, str]) -> dict[str, Any]:
        """An answer sealed on this machine: ``{id, to_reporter, to_desk}``."""
        data: dict[str, Any] = self._call("POST", "/follow-up/messages", body)
        return data

    def add_identity_record(self, record: dict[str, Any]) -> dict[str, Any]:
        """An identity record version 2 sealed on this machine for the custodians."""
        data: dict[str, Any] = self._call("POST", "/identity", {"record": record})
        return data

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> ReporterClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()
