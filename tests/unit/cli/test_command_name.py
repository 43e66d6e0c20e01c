"""The command the CLI tells people to run is one they can run: ``tipledger`` only when their
PATH finds this very program, else the path they ran it by."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from ledger.cli.common import command_name


def _program(directory: Path) -> Path:
    program = directory / "tipledger"
    program.write_text("#!/bin/sh\n")
    program.chmod(0o755)
    return program


def test_a_venv_program_not_on_path_is_named_by_its_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bin_dir = tmp_path / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    program = _program(bin_dir)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    monkeypatch.setattr(sys, "argv", [str(program), "up"])
    assert command_name() == os.path.join(".venv", "bin", "tipledger")


def test_a_program_on_path_is_named_tipledger(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    program = _program(tmp_path)
    monkeypatch.setenv("PATH", f"{tmp_path}:/usr/bin:/bin")
    monkeypatch.setattr(sys, "argv", [str(program), "up"])
    assert command_name() == "tipledger"


def test_outside_the_working_directory_the_absolute_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    program = _program(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    monkeypatch.setattr(sys, "argv", [str(program), "up"])
    assert command_name() == str(program.resolve())
