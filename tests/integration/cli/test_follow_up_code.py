"""The reporter's code through the CLI, end to end on the real service (SQLite and PostgreSQL):
``submit --api`` prints a code; with it alone (and the reporter's copy of the tip) the reporter
reads the thread, answers, adds an identity and gets back a receipt that verifies on the chain.
A wrong code is one line and exit 2, before anything is sent.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest

from ledger.core.receipt import Receipt
from ledger.followup.code import unlock
from ledger.followup.secrets import FROM_REVIEWER, new_message_id, reporter_key, seal_message
from ledger.verify import verify_receipt

from ..api.conftest import (  # noqa: F401 - fixtures
    Server,
    module_database_url,
)
from ..api.conftest import server as server
from ..vault.conftest import Vault, vault  # noqa: F401 - the fixture

pytestmark = pytest.mark.chain

CODE_LINE = re.compile(
    r"Your code: ([0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}) — write it down; it is all "
    r"you need to follow up"
)


@pytest.fixture(scope="module")
def server_sealing() -> bool:
    return False  # the default: everything arrives sealed on the device


def ask(service: Server, code: str, commitment: bytes, text: str) -> None:
    """A member's question, sealed as `tipledger review ask` seals it."""
    keys = unlock(code)
    case = service.case_key("0x" + commitment.hex())
    message_id = new_message_id()

    def sealed(key: Any) -> bytes:
        return seal_message(
            key, commitment=commitment, message_id=message_id, sender=FROM_REVIEWER, text=text
        )

    service.service.follow_ups.desk_ask(
        commitment,
        reviewer=service.accounts[2].address,
        message_id=message_id,
        to_reporter=sealed(reporter_key(keys.follow_up, commitment).public_key()),
        to_desk=sealed(case.public_key()),
    )


def test_the_code_from_submit_to_receipt(vault: Vault, tmp_path: Path) -> None:  # noqa: F811
    text = "Code CLI tip " + os.urandom(4).hex()
    receipt_file = tmp_path / "receipt.json"
    submitted = vault.cli(
        "submit", "--api", vault.server.url, "--text", text, "--out", str(receipt_file)
    )
    assert submitted.exit_code == 0, submitted.output
    found = CODE_LINE.search(submitted.stderr)
    assert found is not None, submitted.stderr
    code = found.group(1)
    data = json.loads(receipt_file.read_text())
    assert data["follow_up"] == {"code": code}  # the receipt file is the optional extra
    commitment = Receipt.from_dict(data).commitment_bytes

    marker = "QUESTION-" + os.urandom(6).hex()
    ask(vault.server, code, commitment, marker)
    status = vault.cli("follow-up", "status", "--code", code, "--json")
    assert status.exit_code == 0, status.output
    view = json.loads(status.stdout)
    assert view["version"] == 3
    assert [(m["from"], m["text"]) for m in view["messages"]] == [("reviewer", marker)]
    # from stdin, in lower case with spaces: read as the same code
    typed = code.lower().replace("-", " ")
    piped = vault.cli("follow-up", "status", "--code", "-", input=typed + "\n")
    assert piped.exit_code == 0, piped.output
    assert marker in piped.stdout

    answer = "ANSWER-" + os.urandom(6).hex()
    replied = vault.cli("follow-up", "reply", "--code", code, "--text", answer)
    assert replied.exit_code == 0, replied.output
    by_receipt = vault.cli("follow-up", "status", str(receipt_file))  # the receipt works too
    assert by_receipt.exit_code == 0, by_receipt.output
    assert answer in by_receipt.stdout

    identity_file = tmp_path / "me.json"
    identity_file.write_text(json.dumps({"name": "Reporter R."}))
    added = vault.cli(
        "follow-up", "add-identity", "--code", code, "--identity-file", str(identity_file)
    )
    assert added.exit_code == 0, added.output
    assert json.loads(added.stdout)["kind"] == "reporter"

    # the receipt back from the code and the reporter's copy of the tip; it verifies
    document = tmp_path / "tip.txt"
    document.write_bytes(text.encode())
    recovered_file = tmp_path / "recovered.json"
    recovered = vault.cli(
        "follow-up",
        "receipt",
        "--code",
        code,
        "--document",
        str(document),
        "--out",
        str(recovered_file),
        "--rpc",
        vault.server.rpc_url,
    )
    assert recovered.exit_code == 0, recovered.output
    again = json.loads(recovered_file.read_text())
    assert again["follow_up"] == {"code": code}
    assert {k: v for k, v in again.items() if k != "inclusion"} == {
        k: v for k, v in data.items() if k != "inclusion"
    }
    verdict = verify_receipt(Receipt.from_dict(again), text.encode(), vault.server.w3)
    assert verdict.ok, verdict.summary()

    other = tmp_path / "other.txt"
    other.write_bytes(text.encode() + b"!")
    wrong_doc = vault.cli("follow-up", "receipt", "--code", code, "--document", str(other))
    assert wrong_doc.exit_code == 2
    assert "this document is not the one sent with this code" in wrong_doc.stderr
    assert "one-time author key" in wrong_doc.stderr


def test_a_wrong_code_is_one_line_and_exit_2(vault: Vault, tmp_path: Path) -> None:  # noqa: F811
    # a symbol changed: the check symbol catches it on the device, nothing is sent
    code = "7KQM-4T9X-J2RB-8HCE"
    mistyped = "7KQM-4T9X-J2RB-8HCF"
    document = tmp_path / "tip.txt"
    document.write_bytes(b"A tip")
    cases = [
        (mistyped, "does not check out"),
        ("7KQM-4T9X", "has 16 letters and digits, this has 8"),
        ("7KQM-4T9X-J2RB-8HC!", "symbol 16 of the code"),
        (code, "no tip has this code"),  # well-formed, but no tip has its locator here
    ]
    for given, said in cases:
        for command in (
            ["follow-up", "status", "--code", given],
            ["follow-up", "reply", "--code", given, "--text", "A."],
            ["follow-up", "receipt", "--code", given, "--document", str(document)],
        ):
            result = vault.cli(*command)
            assert result.exit_code == 2, (command, result.output)
            assert said in result.stderr, (command, result.stderr)
            assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    both = vault.cli("follow-up", "status", str(tmp_path / "r.json"), "--code", code)
    assert both.exit_code == 2
    assert "not both" in both.stderr
