"""Schemathesis on the vault's operations, signed in with every desk role: generated input,
valid and not, never a 5xx and always a one-line ``detail``."""

from __future__ import annotations

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from ledger.chain.contract import TipLedgerContract
from ledger.cli.api_client import sign_in

from ..api.conftest import Server

pytestmark = pytest.mark.chain

EXAMPLES = 12


def test_signed_in_generated_input_gives_no_server_error(server: Server) -> None:
    admin = server.admin  # DEFAULT_ADMIN_ROLE; given the other two so every route is reached
    contract = TipLedgerContract(server.w3, server.deployment.address)
    for role in ("CUSTODIAN_ROLE", "REVIEWER_ROLE"):
        if not contract.has_role(role, admin.address):
            contract.grant_role(admin, role, admin.address)
    with httpx.Client(base_url=server.url, timeout=30) as client:
        headers = {"Authorization": f"Bearer {sign_in(client, admin)}"}
    schema = schemathesis.openapi.from_url(f"{server.url}/openapi.json")
    operations = [
        op
        for op in (r.ok() for r in schema.get_all_operations())
        if op.path.startswith("/v1/vault")
    ]
    assert len(operations) >= 20
    failures: list[str] = []
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def check(case) -> None:  # type: ignore[no-untyped-def]
            response = case.call(base_url=server.url, timeout=30, headers=headers)
            where = f"{case.method} {case.formatted_path}"
            if response.status_code >= 500:
                failures.append(f"{where} -> {response.status_code}: {response.text[:300]}")
            elif response.status_code >= 400:
                detail = response.json().get("detail")
                if not isinstance(detail, str) or not detail or "\n" in detail:
                    failures.append(f"{where} -> {response.status_code} without a one-line detail")

        check()
    assert not failures, "\n".join(failures[:20])
