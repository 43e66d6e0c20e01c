"""A wrong TIPLEDGER_* value is one readable line naming the variable, not a traceback."""

from __future__ import annotations

import subprocess
import sys

import pytest

from ledger.cli.common import settings
from ledger.errors import ConfigError


def test_a_wrong_value_names_its_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TIPLEDGER_PORT", "abc")
    with pytest.raises(ConfigError, match=r"^invalid setting: TIPLEDGER_PORT: .*integer"):
        settings()


def test_the_cli_exits_2_with_one_line(tmp_path: object) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "ledger.cli", "log"],
        env={"TIPLEDGER_MAX_HEADERS": "many", "TIPLEDGER_HOME": str(tmp_path), "PATH": "/usr/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "error: invalid setting: TIPLEDGER_MAX_HEADERS: Input should be a valid integer, unable "
        "to parse string as an integer"
    ]
