"""Deadline presets and explicit deadlines (``ledger.audit.deadlines``), and the setting."""

from __future__ import annotations

import pytest

from ledger.audit.deadlines import DEFAULT, PRESETS, Deadlines, parse_deadlines
from ledger.config import Settings
from ledger.errors import ConfigError


def test_the_presets() -> None:
    assert DEFAULT == "th"
    assert (PRESETS["th"].ack_days, PRESETS["th"].outcome_days) == (15, 90)
    assert (PRESETS["eu"].ack_days, PRESETS["eu"].outcome_days) == (7, 92)
    assert parse_deadlines(" EU ") is PRESETS["eu"]
    assert PRESETS["th"].ack_limit == 15 * 86_400
    assert "2019/1937" in PRESETS["eu"].basis


@pytest.mark.parametrize(
    ("text", "ack", "outcome"),
    [
        ("ack=7d,outcome=90d", 7, 90),
        ("outcome=3w, ack=36h", 1.5, 21),
        ("ack=10,outcome=10", 10, 10),
    ],
)
def test_explicit_deadlines(text: str, ack: float, outcome: float) -> None:
    d = parse_deadlines(text)
    assert (d.ack_days, d.outcome_days, d.name) == (ack, outcome, "custom")
    assert parse_deadlines(d.spec()) == d


@pytest.mark.parametrize(
    "text",
    ["", "de", "ack=7d", "ack=7d,outcome=90d,ack=1d", "ack=7m,outcome=90d", "ack=0,outcome=1",
     "ack=9d,outcome=8d"],
)  # fmt: skip
def test_bad_deadlines_are_refused(text: str) -> None:
    with pytest.raises(ConfigError):
        parse_deadlines(text)


def test_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TIPLEDGER_DEADLINES", raising=False)
    assert Settings().deadlines == "th"
    assert Settings().deadline_policy == PRESETS["th"]
    monkeypatch.setenv("TIPLEDGER_DEADLINES", "ack=2w,outcome=60d")
    s = Settings()
    assert s.deadlines == "ack=14d,outcome=60d"
    assert s.deadline_policy == Deadlines(14, 60)
    monkeypatch.setenv("TIPLEDGER_DEADLINES", "soon")
    with pytest.raises(ValueError, match="expected a preset"):
        Settings()
