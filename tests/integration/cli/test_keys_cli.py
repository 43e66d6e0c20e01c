"""`tipledger keys init` and `keys show` as a person runs them, in a temporary TIPLEDGER_HOME."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

from cryptography.hazmat.primitives import serialization

from ledger.core.commitment import commitment, content_digest, new_salt
from ledger.desk.envelope import key_id, open_tip, seal_tip
from ledger.desk.keys import load_private_key, public_key_from_text

PASSPHRASE = "correct horse battery ผู้แจ้ง"


def run(home: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200"}
    full_env.pop("TIPLEDGER_DESK_PUBLIC_KEY", None)
    full_env.update({"TIPLEDGER_HOME": str(home), "TIPLEDGER_DESK_PASSPHRASE": PASSPHRASE, **env})
    return subprocess.run(
        [sys.executable, "-m", "ledger.cli", *args],
        env=full_env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )


def raw(public_key) -> bytes:  # type: ignore[no-untyped-def]
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def test_keys_init_writes_a_protected_private_key_and_the_public_key(tmp_path: Path) -> None:
    home = tmp_path / "home"
    done = run(home, "keys", "init")
    assert done.returncode == 0, done.stderr

    private = home / "review-desk-private.pem"
    public = home / "desk-public.txt"
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert private.read_bytes().startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    assert PASSPHRASE.encode() not in private.read_bytes()
    text = public.read_text()
    assert text.endswith("\n")
    assert done.stdout.strip() == text.strip()

    key = load_private_key(private, PASSPHRASE)
    public_key = public_key_from_text(text)
    assert raw(key.public_key()) == raw(public_key)
    assert key_id(public_key) in done.stderr

    # What the service seals with the public file, the desk opens with the private file.
    salt, document, author = new_salt(), "เบาะแส".encode(), bytes(20)
    c = commitment(salt, content_digest(document), author)
    envelope = seal_tip(public_key, commitment=c, document=document, salt=salt, author=author)
    assert open_tip(key, envelope, c).document == document


def test_keys_init_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert run(home, "keys", "init").returncode == 0
    private, public = home / "review-desk-private.pem", home / "desk-public.txt"
    before = private.read_bytes(), public.read_text()

    again = run(home, "keys", "init")
    assert again.returncode == 2
    assert "already exists" in again.stderr
    assert "--force" in again.stderr
    assert "Traceback" not in again.stderr
    assert (private.read_bytes(), public.read_text()) == before

    forced = run(home, "keys", "init", "--force")
    assert forced.returncode == 0, forced.stderr
    assert public.read_text() != before[1]
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    new_key = load_private_key(private, PASSPHRASE)
    assert raw(new_key.public_key()) == raw(public_key_from_text(public.read_text()))


def test_keys_init_refuses_when_only_the_public_file_exists(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "desk-public.txt").write_text("someone's key\n")
    done = run(home, "keys", "init")
    assert done.returncode == 2
    assert "desk-public.txt already exists" in done.stderr
    assert not (home / "review-desk-private.pem").exists()


def test_keys_init_writes_where_it_is_told(tmp_path: Path) -> None:
    home = tmp_path / "home"
    private, public = tmp_path / "desk" / "private.pem", tmp_path / "desk" / "public.txt"
    done = run(home, "keys", "init", "--private-out", str(private), "--public-out", str(public))
    assert done.returncode == 0, done.stderr
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    key = load_private_key(private, PASSPHRASE)
    assert raw(key.public_key()) == raw(public_key_from_text(public.read_text()))
    assert not (home / "desk-public.txt").exists()


def test_keys_init_without_a_passphrase_fails_cleanly(tmp_path: Path) -> None:
    home = tmp_path / "home"
    done = run(home, "keys", "init", TIPLEDGER_DESK_PASSPHRASE="")
    assert done.returncode == 2
    assert "non-empty passphrase" in done.stderr
    assert not (home / "review-desk-private.pem").exists()


def test_keys_show_prints_the_configured_key_and_its_id(tmp_path: Path) -> None:
    home = tmp_path / "home"
    none = run(home, "keys", "show")
    assert none.returncode == 2
    assert "no review desk public key" in none.stderr

    assert run(home, "keys", "init").returncode == 0
    text = (home / "desk-public.txt").read_text().strip()
    shown = run(home, "keys", "show")
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.strip() == text
    assert key_id(public_key_from_text(text)) in shown.stderr
    assert "desk-public.txt" in shown.stderr

    other = tmp_path / "other"
    assert run(other, "keys", "init").returncode == 0
    other_text = (other / "desk-public.txt").read_text().strip()
    from_env = run(home, "keys", "show", TIPLEDGER_DESK_PUBLIC_KEY=other_text)
    assert from_env.returncode == 0, from_env.stderr
    assert from_env.stdout.strip() == other_text
    assert "TIPLEDGER_DESK_PUBLIC_KEY" in from_env.stderr

    bad = run(home, "keys", "show", TIPLEDGER_DESK_PUBLIC_KEY="tipledger-desk-x25519:nope")
    assert bad.returncode == 2
    assert bad.stderr.startswith("error: TIPLEDGER_DESK_PUBLIC_KEY:")
