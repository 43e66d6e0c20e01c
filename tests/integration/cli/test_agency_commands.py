"""`tipledger member …` and `tipledger agency …` as the admin and a member run them, against a
fresh TipLedger on the session's real Anvil (in-process, for speed; the chain is real)."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from click.testing import Result
from typer.testing import CliRunner

from ledger.cli.agency_commands import MEMBER_ENV
from ledger.cli.app import app
from ledger.core.agency import agency_id
from ledger.core.hpke import key_id
from ledger.desk.member_keys import MemberKey, load_member_key

from ..chain_support import DeployedLedger

SCRYPT_N = "16384"  # the minimum: key files cost milliseconds here
PASSPHRASE = "รหัสผ่านของเจ้าหน้าที่รับเรื่อง"
NAME_TH = "ศูนย์รับเรื่องร้องเรียนแห่งชาติ"
NAME_EN = "National Intake Desk"


@dataclass
class Admin:
    """A data directory that knows the deployment, the admin's and an outsider's keys."""

    home: Path
    deployed: DeployedLedger
    admin_key: Path
    outsider_key: Path

    def cli(self, *args: str, home: Path | None = None) -> Result:
        env = {
            "TIPLEDGER_HOME": str(home or self.home),
            "NO_COLOR": "1",
            "COLUMNS": "200",
            MEMBER_ENV: "",  # never used: the commands here get --passphrase-file
            "TIPLEDGER_RPC_URL": None,  # the deployment's, or --rpc
        }
        return CliRunner().invoke(app, list(args), env=env, catch_exceptions=False)

    def ok(self, *args: str) -> Result:
        result = self.cli(*args)
        assert result.exit_code == 0, f"tipledger {' '.join(args)}: {result.output}"
        assert "Traceback" not in result.output
        return result

    def refused(self, *args: str, key: Path | None = None) -> str:
        """Exit 2 and one readable line: that line."""
        admin = ["--key-file", str(key or self.admin_key)] if _writes(args) else []
        result = self.cli(*args, *admin)
        assert result.exit_code == 2, f"tipledger {' '.join(args)}: {result.output}"
        assert "Traceback" not in result.output
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, result.stderr
        assert lines[0].startswith("error: ")
        return lines[0]

    def write(self, *args: str, key: Path | None = None) -> Result:
        return self.ok(*args, "--key-file", str(key or self.admin_key))


def _writes(args: tuple[str, ...]) -> bool:
    return args[1] in {"add", "add-member", "remove-member", "activate", "deactivate"}


@pytest.fixture
def admin(deployed: DeployedLedger, tmp_path: Path) -> Admin:
    home = tmp_path / "home"
    home.mkdir()
    rpc = deployed.devchain.rpc_url
    replace(deployed.deployment, rpc_url=rpc).save(home / "deployment.json")
    keys = []
    for name, account in (("admin", deployed.admin), ("outsider", deployed.outsider)):
        path = tmp_path / f"{name}.key"
        path.write_text("0x" + bytes(account.key).hex() + "\n")
        path.chmod(0o600)
        keys.append(path)
    return Admin(home, deployed, *keys)


def listed(admin: Admin) -> dict[str, dict[str, object]]:
    found = json.loads(admin.ok("agency", "list", "--json").stdout)
    return {a["agency"]: a for a in found}


def test_member_keygen_then_add_member_registers_the_files_keys(
    admin: Admin, tmp_path: Path
) -> None:
    key_file, passphrase_file = tmp_path / "member" / "key.json", tmp_path / "passphrase"
    passphrase_file.write_text(PASSPHRASE + "\n", encoding="utf-8")
    made = admin.ok(
        "member", "keygen", "--key-file", str(key_file),
        "--passphrase-file", str(passphrase_file), "--scrypt-n", SCRYPT_N,
    )  # fmt: skip
    member = load_member_key(key_file, PASSPHRASE)  # the passphrase from the file, no newline
    assert f"address        {member.address}" in made.stdout
    assert f"x25519_public  0x{member.encryption_key.hex()}" in made.stdout
    assert f"key_id         {member.key_id}" in made.stdout
    assert "agency add-member" in made.stderr

    shown = json.loads(admin.ok("member", "show", "--key-file", str(key_file), "--json").stdout)
    assert shown == {
        "address": member.address,
        "x25519_public": "0x" + member.encryption_key.hex(),
        "key_id": member.key_id,
    }
    again = admin.cli(
        "member", "keygen", "--key-file", str(key_file), "--passphrase-file", str(passphrase_file)
    )
    assert again.exit_code == 2
    assert "already exists; pass --force" in again.stderr
    assert load_member_key(key_file, PASSPHRASE).key_id == member.key_id

    admin.write("agency", "add", "intake", "--name-th", NAME_TH, "--name-en", NAME_EN)
    added = admin.write("agency", "add-member", "intake", "--member-key-file", str(key_file))
    assert f"added {member.address} (key {member.key_id}) to agency intake" in added.stderr

    on_chain = admin.deployed.contract.members(agency_id("intake"))
    assert [(m.address, m.encryption_key) for m in on_chain] == [
        (member.address, member.encryption_key)
    ]
    view = json.loads(admin.ok("agency", "show", "intake", "--json").stdout)
    assert view["members"] == [
        {
            "address": member.address,
            "key_id": member.key_id,
            "encryption_key": "0x" + member.encryption_key.hex(),
        }
    ]
    assert view["member_count"] == 1


def test_agencies_and_members_on_chain(admin: Admin) -> None:
    before = listed(admin)
    admin.write("agency", "add", "intake", "--name-th", NAME_TH, "--name-en", NAME_EN)
    admin.write(
        "agency", "add", "anti-corruption", "--name-th", "สำนักงานป้องกันการทุจริต",
        "--name-en", "Anti-Corruption Office",
    )  # fmt: skip
    agencies = listed(admin)
    assert set(agencies) - set(before) == {"intake", "anti-corruption"}
    assert agencies["intake"] == {
        "agency": "intake",
        "id": "0x" + agency_id("intake").hex(),
        "name_th": NAME_TH,
        "name_en": NAME_EN,
        "active": True,
        "member_count": 0,
    }
    table = admin.ok("agency", "list").stdout
    assert "anti-corruption" in table
    assert "สำนักงานป้องกันการทุจริต" in table

    a, b = MemberKey.generate(), MemberKey.generate()
    for m in (a, b):
        admin.write(
            "agency", "add-member", "intake", "--address", m.address.lower(),
            "--encryption-key", "0x" + m.encryption_key.hex(),
        )  # fmt: skip
    shown = admin.ok("agency", "show", "intake").stdout
    for m in (a, b):
        assert m.address in shown
        assert m.key_id in shown
        assert "0x" + m.encryption_key.hex() in shown
    assert listed(admin)["intake"]["member_count"] == 2

    removed = admin.write("agency", "remove-member", "intake", a.address)
    assert f"removed {a.address} from agency intake" in removed.stderr
    view = json.loads(admin.ok("agency", "show", "intake", "--json").stdout)
    assert [m["address"] for m in view["members"]] == [b.address]
    assert view["members"][0]["key_id"] == key_id(b.encryption_key)
    contract = admin.deployed.contract
    assert not contract.is_member(agency_id("intake"), a.address)
    assert contract.is_member(agency_id("intake"), b.address)

    assert "deactivated agency intake" in admin.write("agency", "deactivate", "intake").stderr
    assert listed(admin)["intake"]["active"] is False
    assert "(inactive)" in admin.ok("agency", "show", "intake").stdout
    again = admin.write("agency", "deactivate", "intake")
    assert "already inactive: nothing to do" in again.stderr
    assert "activated agency intake" in admin.write("agency", "activate", "intake").stderr
    info = contract.agency_info(agency_id("intake"))
    assert info is not None
    assert info.active
    assert info.member_count == 1


def test_contract_option_reads_another_deployment(admin: Admin, tmp_path: Path) -> None:
    """--rpc and --contract name the chain without a deployment file."""
    admin.write("agency", "add", "intake", "--name-th", NAME_TH, "--name-en", NAME_EN)
    elsewhere = tmp_path / "elsewhere"
    rpc, address = admin.deployed.devchain.rpc_url, admin.deployed.contract.address
    result = admin.cli(
        "agency", "list", "--json", "--rpc", rpc, "--contract", address, home=elsewhere
    )
    assert result.exit_code == 0, result.output
    assert "intake" in {a["agency"] for a in json.loads(result.stdout)}


def test_refusals_exit_2_with_one_line_in_words(admin: Admin, tmp_path: Path) -> None:
    admin.write("agency", "add", "intake", "--name-th", NAME_TH, "--name-en", NAME_EN)
    member = MemberKey.generate()
    new_member = (
        "--address",
        member.address,
        "--encryption-key",
        "0x" + member.encryption_key.hex(),
    )
    admin.write("agency", "add-member", "intake", *new_member)
    contract = admin.deployed.contract

    bad = admin.refused("agency", "add", "Bad_Slug", "--name-th", NAME_TH, "--name-en", NAME_EN)
    assert "an agency id is 2 to 31 characters of a-z, 0-9 and '-'" in bad
    assert "'Bad_Slug'" in bad
    assert "an agency id" in admin.refused("agency", "show", "x")  # one character: too short

    assert "there is no agency 'nosuch' on chain" in admin.refused("agency", "show", "nosuch")
    unknown = admin.refused("agency", "add-member", "nosuch", *new_member)
    assert unknown.endswith("there is no agency nosuch on chain (UnknownAgency)")
    assert "refused by the contract" in unknown
    unknown = admin.refused("agency", "remove-member", "nosuch", member.address)
    assert unknown.endswith("there is no agency nosuch on chain (UnknownAgency)")
    assert "no agency 'nosuch' on chain" in admin.refused("agency", "deactivate", "nosuch")

    duplicate = admin.refused("agency", "add", "intake", "--name-th", "อื่น", "--name-en", "Other")
    assert duplicate.endswith(
        "the agency intake already exists (agencies are never deleted) (AgencyExists)"
    )
    info = contract.agency_info(agency_id("intake"))
    assert info is not None
    assert info.name_en == NAME_EN

    twice = admin.refused("agency", "add-member", "intake", *new_member)
    assert twice.endswith(f"{member.address} is already a member of intake (AlreadyMember)")

    stranger = MemberKey.generate().address
    absent = admin.refused("agency", "remove-member", "intake", stranger)
    assert absent.endswith(f"{stranger} is not a member of intake (NotMember)")

    outsider = admin.deployed.outsider.address
    for args in (
        ("agency", "add", "other", "--name-th", "อื่น", "--name-en", "Other"),
        ("agency", "add-member", "intake", "--address", stranger,
         "--encryption-key", "0x" + MemberKey.generate().encryption_key.hex()),
        ("agency", "remove-member", "intake", member.address),
        ("agency", "deactivate", "intake"),
    ):  # fmt: skip
        line = admin.refused(*args, key=admin.outsider_key)
        assert line.endswith(
            f"{outsider} does not hold DEFAULT_ADMIN_ROLE: only the contract's admin may change "
            "agencies and their members (AccessControlUnauthorizedAccount)"
        ), line
    assert contract.agency_info(agency_id("other")) is None
    assert [m.address for m in contract.members(agency_id("intake"))] == [member.address]
    info = contract.agency_info(agency_id("intake"))
    assert info is not None
    assert info.active

    # Checked here, before the chain: keys nothing could be granted to, and mixed inputs.
    low_order = "0x" + "00" * 32
    assert "not a usable X25519 public key" in admin.refused(
        "agency", "add-member", "intake", "--address", stranger, "--encryption-key", low_order
    )
    assert "0x + 64 hex digits" in admin.refused(
        "agency", "add-member", "intake", "--address", stranger, "--encryption-key", "0x1234"
    )
    assert "invalid address" in admin.refused(
        "agency", "add-member", "intake", "--address", "0x12", "--encryption-key",
        "0x" + MemberKey.generate().encryption_key.hex(),
    )  # fmt: skip
    key_file = tmp_path / "member.json"
    assert "not both" in admin.refused(
        "agency", "add-member", "intake", "--member-key-file", str(key_file), *new_member
    )
    assert "cannot read the member key file" in admin.refused(
        "agency", "add-member", "intake", "--member-key-file", str(key_file)
    )
    assert "no member key file at" in admin.refused("member", "show", "--key-file", str(key_file))
    assert "--name-th must not be empty" in admin.refused(
        "agency", "add", "other", "--name-th", " ", "--name-en", "Other"
    )


def test_member_keygen_asks_twice_or_reads_the_environment(admin: Admin, tmp_path: Path) -> None:
    asked = tmp_path / "asked.json"
    runner = CliRunner()
    env = {"TIPLEDGER_HOME": str(admin.home), "NO_COLOR": "1", MEMBER_ENV: None}
    args = ["member", "keygen", "--key-file", str(asked), "--scrypt-n", SCRYPT_N]
    mismatch = runner.invoke(app, args, env=env, input=f"{PASSPHRASE}\nother\n")
    assert mismatch.exit_code != 0
    assert not asked.exists()
    done = runner.invoke(app, args, env=env, input=f"{PASSPHRASE}\n{PASSPHRASE}\n")
    assert done.exit_code == 0, done.output
    assert load_member_key(asked, PASSPHRASE).address in done.stdout

    from_env = tmp_path / "from-env.json"
    args = ["member", "keygen", "--key-file", str(from_env), "--scrypt-n", SCRYPT_N]
    done = runner.invoke(app, args, env={**env, MEMBER_ENV: PASSPHRASE})
    assert done.exit_code == 0, done.output
    assert load_member_key(from_env, PASSPHRASE).key_id in done.stdout
    empty = runner.invoke(app, [*args[:3], str(tmp_path / "e.json")], env={**env, MEMBER_ENV: ""})
    assert empty.exit_code == 2
    assert "the member key file needs a non-empty passphrase" in empty.stderr
