"""The OpenAPI document matches the API: schemathesis with every check, 0 failures.

Schemathesis (its own runner, ``st run``) runs against the live server (real uvicorn on
loopback, real Anvil) with a signed-in desk session holding every desk role and a member of the
intake desk, so the privileged routes are exercised beyond 401 and 403.
``DELETE /v1/auth/session`` would end that session half way, so it runs on its own with a
session of its own. Time-bounded: few examples per operation, a fixed seed and a time budget per
run (about a minute on a 2-core machine). Each run starts from a clean state in its own
directory (schemathesis replays failures it kept).
``BEYOND_THE_SCHEMA`` lists the few refusals of schema-valid input by rules no schema can state.

The run's summary (failures per check) is printed; ``pytest -s`` shows it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from ledger.chain.contract import TipLedgerContract
from ledger.cli.api_client import sign_in
from ledger.core.hpke import public_bytes
from ledger.log.intake import INTAKE_ID

from .conftest import Server

pytestmark = pytest.mark.chain

SIGN_OUT = "DELETE /v1/auth/session"
ROLES = ("REVIEWER_ROLE", "CUSTODIAN_ROLE")  # the admin (accounts[0]) holds DEFAULT_ADMIN_ROLE

# Refusals of schema-valid requests by rules no JSON Schema can state: between two parameters,
# cryptographic, or on chain state. Each is documented on its operation; only these statuses
# are added to what "schema-valid request accepted" allows, only for these operations.
# Up to 1000 grants of 120 characters: more than this test server's 64 KiB body limit (413).
BEYOND_THE_SCHEMA: dict[str, tuple[tuple[int, ...], str]] = {
    "GET /v1/log/entries": ((400,), "end below start"),
    "GET /v1/log/proof/inclusion": ((400,), "index not below size"),
    "GET /v1/log/proof/consistency": ((400,), "second below first"),
    "POST /v1/vault/custodians": ((422,), "key id not derived from the key; a low-order point"),
    "POST /v1/vault/sets": ((422,), "fewer custodians than the contract's disclosure threshold"),
    "POST /v1/verify": ((422,), "a receipt for a contract the chain does not have"),
    "POST /v1/tips": (
        (422,),
        "an agency the chain does not list, inactive, or with no members; grants that are not "
        "one per member key the chain lists; an envelope not sealed to the case key",
    ),
    "POST /v1/review/tips/{commitment}/referrals": (
        (413, 422),
        "a body over the server's limit; a grant for a key the chain does not list",
    ),
    "POST /v1/review/tips/{commitment}/grants": (
        (413, 422),
        "a body over the server's limit; a grant for a key the chain does not list",
    ),
}
ACCEPTED = ["2xx", "3xx", "401", "403", "404", "409", "429", "5xx"]  # schemathesis's default


def _config(path: Path) -> Path:
    lines = []
    for operation, (extra, _why) in BEYOND_THE_SCHEMA.items():
        statuses = ", ".join(f'"{s}"' for s in [*ACCEPTED, *map(str, extra)])
        lines += [
            "[[operations]]",
            f'include-name = "{operation}"',
            f"checks.positive_data_acceptance.expected-statuses = [{statuses}]",
            "",
        ]
    path.write_text("\n".join(lines))
    return path


def _token(server: Server) -> str:
    contract = TipLedgerContract(server.w3, server.deployment.address)
    for role in ROLES:
        if not contract.has_role(role, server.admin.address):
            contract.grant_role(server.admin, role, server.admin.address)
    if not contract.is_member(INTAKE_ID, server.admin.address):  # the review desk's routes
        key = public_bytes(X25519PrivateKey.generate().public_key())
        contract.add_member(server.admin, INTAKE_ID, server.admin.address, key)
    with server.client() as http:
        return sign_in(http, server.admin)


def _schemathesis(
    server: Server, report: Path, token: str, budget: int, *select: str
) -> tuple[int, str]:
    command = [
        str(Path(sys.executable).with_name("st")),
        f"--config-file={_config(report.with_suffix('.toml'))}",
        "run",
        f"{server.url}/openapi.json",
        "--checks=all",
        "--phases=examples,coverage,fuzzing",
        "--max-examples=12",
        "--seed=14",
        f"--max-time={budget}",
        "--workers=1",
        "--continue-on-failure",
        "--request-timeout=30",
        "--suppress-health-check=all",
        "--no-color",
        f"--header=Authorization: Bearer {token}",
        "--report=json",
        f"--report-json-path={report}",
        *select,
    ]
    env = {**os.environ, "NO_COLOR": "1", "SCHEMATHESIS_TELEMETRY": "false"}
    # Run in the report's directory: schemathesis keeps its state (.schemathesis/, .hypothesis/)
    # in the working directory, and replays the failures it finds there, so each run starts clean.
    done = subprocess.run(
        command, capture_output=True, text=True, env=env, timeout=300, cwd=report.parent
    )
    output = done.stdout + done.stderr
    report.with_suffix(".txt").write_text(output)
    return done.returncode, output


def test_schemathesis_all_checks_find_nothing(server: Server, tmp_path: Path) -> None:
    main = tmp_path / "main.json"
    out = tmp_path / "out.json"
    tokens = _token(server), _token(server)  # both before the runs, which may use up challenges
    # The document is the same on both databases: the full budget once (SQLite), and a shorter
    # run on PostgreSQL for its own 5xx (every schema check still runs there).
    main_budget, out_budget = (45, 10) if server.sqlite_file is not None else (20, 6)
    runs = [
        _schemathesis(server, main, tokens[0], main_budget, f"--exclude-name={SIGN_OUT}"),
        _schemathesis(server, out, tokens[1], out_budget, f"--include-name={SIGN_OUT}"),
    ]
    for _code, output in runs:
        print(output[-6000:])
    for path in (tmp_path / "main.json", tmp_path / "out.json"):
        if path.exists():
            print(path.name, json.dumps(json.loads(path.read_text()).get("summary", {}))[:3000])
    failures = "\n\n".join(out[-8000:] for _, out in runs)
    assert [code for code, _ in runs] == [0, 0], f"{failures}\n(whole output: {tmp_path}/*.txt)"


# The fixes one by one, each fast and independent of what the fuzzer happens to draw.


def test_options_and_405_list_every_method_of_the_path(server: Server) -> None:
    with server.client() as http:
        options = http.options("/v1/vault/sets")
        put = http.put("/v1/vault/sets", json={})
    assert options.status_code == 204, options.text
    assert {m.strip() for m in options.headers["allow"].split(",")} == {"GET", "POST", "OPTIONS"}
    assert put.status_code == 405
    assert put.headers["allow"] == options.headers["allow"]
    assert "GET" in put.json()["detail"]


def test_a_json_body_that_is_not_utf8_is_a_422_with_a_message(server: Server) -> None:
    commitment = "0x" + "ab" * 32
    with server.client() as http:
        answer = http.post(
            f"/v1/tips/{commitment}/follow-up/messages",
            content=b'{"text": "\xff\xfe"}',
            headers={"Content-Type": "application/json"},
        )
    assert answer.status_code == 422, answer.text
    assert "not UTF-8" in answer.json()["detail"]


def test_every_422_in_the_document_is_the_one_line_refusal(server: Server) -> None:
    with server.client() as http:
        document = http.get("/openapi.json").json()
    assert "HTTPValidationError" not in json.dumps(document)
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            answer = operation["responses"].get("422")
            if answer is not None:
                schema = answer["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/ErrorModel"}, (method, path)


def test_an_identity_is_any_json_object_even_with_integers_beyond_64_bits(server: Server) -> None:
    # The schema says "a JSON object": the parser must not refuse one orjson cannot write.
    commitment = "0x" + "ab" * 32
    body = b'{"identity": {"case": 123456789012345678901234567890, "role": "witness"}}'
    with server.client() as http:
        answer = http.post(
            f"/v1/tips/{commitment}/identity",
            content=body,
            headers={"Content-Type": "application/json"},
        )
    assert answer.status_code == 401, answer.text  # parsed; then no follow-up secret
