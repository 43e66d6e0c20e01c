"""Every privileged route refuses anonymous callers (401) and callers without its role (403).

The routes are found, not listed: every route of every router in ``api.routes`` whose
dependency tree holds ``require_role(...)`` (``ReviewerDep``, ``CustodianDep``, ``AdminDep``,
``MemberDep``: a member of some agency) or the plain session (``SessionDep``) gets its own
test, so a route another feature adds is covered the day it is added. A second test holds
that list equal to what ``create_app`` really serves.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import httpx
import pytest
from eth_account.signers.local import LocalAccount
from fastapi import APIRouter
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts
from starlette.routing import BaseRoute

import api.routes
from api import auth
from api.main import create_app
from ledger.auth.sessions import ADMIN_ROLE, CUSTODIAN_ROLE, MEMBER, REVIEWER_ROLE
from ledger.chain.contract import TipLedgerContract
from ledger.cli.api_client import sign_in

from .conftest import Server

pytestmark = pytest.mark.chain

SESSION = "session"  # any signed-in address will do
_PARAM = re.compile(r"\{([^}:]+)(?::[^}]*)?\}")
_SAMPLE = {"commitment": "0x" + "ab" * 32}


@dataclass(frozen=True)
class Privileged:
    method: str
    path: str
    needs: str  # a role name, or SESSION

    @property
    def url(self) -> str:
        return _PARAM.sub(lambda m: _SAMPLE.get(m[1], "1"), self.path)

    def __str__(self) -> str:
        return f"{self.method} {self.path} ({self.needs})"


def _needs(call: object) -> str | None:
    if call is auth._any_session:  # SessionDep
        return SESSION
    if getattr(call, "__qualname__", "") == "require_role.<locals>.dependency":
        role = inspect.getclosurevars(call).nonlocals.get("role")  # type: ignore[arg-type]
        return str(role)
    return None


def _walk(dependant: Dependant) -> Iterator[str]:
    stack = [dependant]
    while stack:
        node = stack.pop()
        needed = _needs(node.call)
        if needed is not None:
            yield needed
        stack.extend(node.dependencies)


def privileged(routes: Sequence[BaseRoute]) -> set[Privileged]:
    """The privileged routes among ``routes`` (included routers followed, as the app does)."""
    found: set[Privileged] = set()
    for context in iter_route_contexts(routes):
        route = context.original_route
        if not isinstance(route, APIRoute):
            continue
        needs = set(_walk(route.dependant))
        if not needs:
            continue
        strongest = sorted(needs - {SESSION}) or [SESSION]
        for method in sorted(route.methods - {"HEAD", "OPTIONS"}):
            for need in strongest:
                found.add(Privileged(method, context.path or route.path, need))
    return found


def _routers() -> list[BaseRoute]:
    routes: list[BaseRoute] = []
    for info in pkgutil.iter_modules(api.routes.__path__):
        module = importlib.import_module(f"api.routes.{info.name}")
        router = getattr(module, "router", None)
        if isinstance(router, APIRouter):
            routes.extend(router.routes)
    return routes


ROUTES = sorted(privileged(_routers()), key=str)


@pytest.fixture(scope="module")
def tokens(server: Server) -> dict[str, str]:
    """Sessions of addresses that hold exactly one role each (and of the admin); none of
    them is a member of any agency."""
    contract = TipLedgerContract(server.w3, server.deployment.address)
    reviewer_only: LocalAccount = server.accounts[6]
    custodian_only: LocalAccount = server.accounts[7]
    for role, account in ((REVIEWER_ROLE, reviewer_only), (CUSTODIAN_ROLE, custodian_only)):
        if not contract.has_role(role, account.address):
            contract.grant_role(server.admin, role, account.address)
    for account in (reviewer_only, custodian_only, server.admin):
        assert contract.memberships_of(account.address) == []
    with httpx.Client(base_url=server.url, timeout=30) as http:
        return {
            REVIEWER_ROLE: sign_in(http, reviewer_only),
            CUSTODIAN_ROLE: sign_in(http, custodian_only),
            ADMIN_ROLE: sign_in(http, server.admin),
        }


def _without(role: str, tokens: dict[str, str]) -> str:
    """A session whose address holds some role, but not ``role`` (for ``MEMBER``: a signed-in
    address that is a member of no agency)."""
    return tokens[CUSTODIAN_ROLE] if role == REVIEWER_ROLE else tokens[REVIEWER_ROLE]


def _refusal(role: str) -> str:
    """What the 403 says of the missing role."""
    return "is not a member of any agency" if role == MEMBER else role


def test_the_routes_found_are_the_routes_served(server: Server) -> None:
    served = privileged(create_app(server.service, manage_lifecycle=False).routes)
    assert served == set(ROUTES), served ^ set(ROUTES)
    needs = {r.needs for r in ROUTES}
    assert REVIEWER_ROLE in needs
    assert MEMBER in needs
    assert {r.needs for r in ROUTES if r.path.startswith("/v1/review/")} == {MEMBER}
    assert any(r.path == "/v1/auth/session" for r in ROUTES)


@pytest.mark.parametrize("route", ROUTES, ids=str)
def test_anonymous_callers_get_401(server: Server, route: Privileged) -> None:
    with httpx.Client(base_url=server.url, timeout=30) as http:
        for headers in ({}, {"Authorization": "Bearer tls_not-a-session"}):
            response = http.request(route.method, route.url, headers=headers)
            assert response.status_code == 401, (route, headers, response.text)
            assert response.headers["www-authenticate"] == "Bearer"
            assert isinstance(response.json()["detail"], str)


@pytest.mark.parametrize("route", [r for r in ROUTES if r.needs != SESSION], ids=str)
def test_callers_without_the_role_get_403(
    server: Server, tokens: dict[str, str], route: Privileged
) -> None:
    token = _without(route.needs, tokens)
    with httpx.Client(base_url=server.url, timeout=30) as http:
        response = http.request(
            route.method, route.url, headers={"Authorization": f"Bearer {token}"}
        )
    assert response.status_code == 403, (route, response.text)
    assert _refusal(route.needs) in response.json()["detail"]
