"""Vault fixtures: the real service over real HTTP on the session's Anvil (SQLite and
PostgreSQL), five custodians and an investigator, each with their own key file and passphrase,
driven through the ``tipledger`` commands as they run them (in-process, for speed).

Per module and database: the custodians and the investigator make their keys, the admin grants
their roles on chain with ``tipledger roles grant``, the custodians register, and the admin
configures a 3-of-5 reporter set. The contract's disclosure threshold is 3.
"""

from __future__ import annotations

import base64
import json
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import Result
from typer.testing import CliRunner

from ledger.cli.app import app
from ledger.cli.vault_support import CUSTODIAN_ENV, INVESTIGATOR_ENV
from ledger.core.encoding import from_hex

from ..api.conftest import (  # noqa: F401 - fixtures
    Server,
    module_database_url,
    server,
    server_sealing,
)

SCRYPT_N = "16384"  # the minimum: key files cost milliseconds, not the default 0.3 s, here


@dataclass
class Person:
    name: str
    key_file: Path
    passphrase_file: Path
    address: str
    key_id: str

    def key_args(self) -> list[str]:
        return ["--key-file", str(self.key_file), "--passphrase-file", str(self.passphrase_file)]


@dataclass
class Vault:
    server: Server
    home: Path
    admin_key: Path
    custodians: list[Person]
    investigator: Person
    env: dict[str, str]

    def cli(self, *args: str, input: str | None = None, **env: str) -> Result:
        """``tipledger ARGS`` in this process, as a person types it (no traceback escapes)."""
        runner = CliRunner()
        return runner.invoke(
            app, list(args), env={**self.env, **env}, input=input, catch_exceptions=False
        )

    def ok(self, *args: str, **env: str) -> Result:
        result = self.cli(*args, **env)
        assert result.exit_code == 0, f"tipledger {' '.join(args)}: {result.output}"
        return result

    def as_custodian(self, i: int, *args: str) -> Result:
        return self.cli(*args, *self.custodians[i].key_args())

    def as_investigator(self, *args: str) -> Result:
        return self.cli(*args, *self.investigator.key_args())

    def submit(self, identity: dict[str, Any], text: str | None = None) -> tuple[bytes, bytes]:
        """POST /v1/tips with an identity: (commitment, record id)."""
        document = (text or f"Procurement fraud, case {os.urandom(4).hex()}").encode()
        with httpx.Client(base_url=self.server.url, timeout=30) as client:
            response = client.post(
                "/v1/tips",
                json={"document": base64.b64encode(document).decode(), "identity": identity},
            )
        assert response.status_code == 202, response.text
        body = response.json()
        assert body["identity"]["kind"] == "reporter"
        return from_hex(body["commitment"], 32), from_hex(body["identity"]["record_id"], 32)


def _person(v: Vault, name: str, group: str, env_name: str) -> Person:
    key_file = v.home / f"{name}.key.json"
    passphrase_file = v.home / f"{name}.passphrase"
    passphrase_file.write_text(f"passphrase of {name} ผู้ดูแล\n", encoding="utf-8")
    result = v.ok(
        group,
        "keygen",
        "--key-file",
        str(key_file),
        "--passphrase-file",
        str(passphrase_file),
        "--scrypt-n",
        SCRYPT_N,
    )
    data = json.loads(key_file.read_text())
    assert data["address"] in result.output
    return Person(name, key_file, passphrase_file, data["address"], data["key_id"])


@pytest.fixture(scope="module")
def vault(server: Server, tmp_path_factory: pytest.TempPathFactory) -> Vault:  # noqa: F811
    home = tmp_path_factory.mktemp("vault-home")
    replace(server.deployment, rpc_url=server.rpc_url).save(home / "deployment.json")
    admin_key = home / "admin.key"
    admin_key.write_text("0x" + bytes(server.admin.key).hex() + "\n")
    admin_key.chmod(0o600)
    env = {
        "TIPLEDGER_HOME": str(home),
        "TIPLEDGER_API_URL": server.url,
        "NO_COLOR": "1",
        "COLUMNS": "200",
        CUSTODIAN_ENV: "",  # never used: every command here gets --passphrase-file
        INVESTIGATOR_ENV: "",
    }
    v = Vault(server, home, admin_key, [], None, env)  # type: ignore[arg-type]
    v.custodians = [_person(v, f"custodian-{i + 1}", "custodian", CUSTODIAN_ENV) for i in range(5)]
    v.investigator = _person(v, "investigator", "disclosure", INVESTIGATOR_ENV)
    for c in v.custodians:
        v.ok("roles", "grant", "CUSTODIAN_ROLE", c.address, "--key-file", str(admin_key))
    v.ok("roles", "grant", "REVIEWER_ROLE", v.investigator.address, "--key-file", str(admin_key))
    for i, c in enumerate(v.custodians):
        result = v.as_custodian(i, "custodian", "register", "--name", f"Custodian {i + 1}")
        assert result.exit_code == 0, result.output
        assert result.stdout.strip() == c.key_id
    v.ok(
        "vault",
        "set-custodians",
        "--kind",
        "reporter",
        "--threshold",
        "3",
        *[c.key_id for c in v.custodians],
        "--key-file",
        str(admin_key),
    )
    return v
