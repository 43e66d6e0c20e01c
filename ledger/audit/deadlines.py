"""How long an agency has to answer a tip: per deployment, a preset or explicit days.

``TIPLEDGER_DEADLINES`` (and ``tipledger audit --deadlines``) is a preset name or an explicit
``ack=7d,outcome=90d`` (units ``d`` days, ``h`` hours, ``w`` weeks). "ack" is the first
response (the agency's first review of the case, or its referral away), "outcome" the first
final status (2..5) or the referral away; both are counted from the anchoring of the tip's
checkpoint, the first time the chain attests the tip was received.

Presets and what they rest on:

- ``eu``: Directive (EU) 2019/1937 (whistleblower protection), Art. 9(1)(b): acknowledge receipt
  within seven days; Art. 9(1)(f): feedback within a reasonable timeframe not exceeding three
  months from the acknowledgement (or from the end of those seven days). Three months is taken
  as 92 days (the longest three calendar months) counted from receipt, as the audit always did:
  stricter than the Directive's count from the acknowledgement by up to seven days.
- ``th`` (the default): the Thai public sector's Integrity and Transparency Assessment (ITA, การ
  ประเมินคุณธรรมและความโปร่งใสในการดำเนินงานของหน่วยงานภาครัฐ) run by the Office of the NACC
  (สำนักงาน ป.ป.ช.). Confirmed: the ITA 2564 (fiscal 2021) evidence item EB10 ("หน่วยงานมีแนว
  ปฏิบัติการจัดการเรื่องร้องเรียน และช่องทางการร้องเรียน") asks for proof that the complainant was
  told the result of the action taken within 15 days ("รายงานผลการดำเนินงานเกี่ยวกับเรื่อง
  ร้องเรียน ... ภายใน 15 วัน", as an agency published it for the rounds October 2020 to March
  2021); the ITA 2563 and 2565 manuals were found but their criterion text could not be read.
  So ack = 15 days: a first review ("under review") is what tells the complainant of the action
  taken. Not confirmed: the text of the Prime Minister's Office Regulation on complaint handling
  B.E. 2552 (ระเบียบสำนักนายกรัฐมนตรีว่าด้วยการจัดการเรื่องราวร้องทุกข์ พ.ศ. ๒๕๕๒), and whether the
  current ITA (2566 on) still states 15 days or sets a time to close a complaint. No Thai rule for
  the outcome was found, so outcome = 90 days: the order of the EU's three months, and the
  default the public transparency page shows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ledger.errors import ConfigError

__all__ = ["DEFAULT", "PRESETS", "Deadlines", "parse_deadlines"]

DAY = 86_400


@dataclass(frozen=True)
class Deadlines:
    """A deadline policy: days to the first response and to the outcome; ``name`` is the
    preset's (``"custom"`` for explicit days), ``basis`` what it rests on (for reports)."""

    ack_days: float
    outcome_days: float
    name: str = "custom"
    basis: str = "set for this deployment"

    @property
    def ack_limit(self) -> int:
        return round(self.ack_days * DAY)

    @property
    def outcome_limit(self) -> int:
        return round(self.outcome_days * DAY)

    def spec(self) -> str:
        """The setting's text for this policy (a preset's name, else ``ack=..,outcome=..``)."""
        if self.name in PRESETS and PRESETS[self.name] == self:
            return self.name
        return f"ack={self.ack_days:g}d,outcome={self.outcome_days:g}d"


PRESETS: dict[str, Deadlines] = {
    "eu": Deadlines(7, 92, "eu", "Directive (EU) 2019/1937, Art. 9(1)(b) and (f)"),
    "th": Deadlines(15, 90, "th", "ITA (NACC): tell the complainant within 15 days"),
}
DEFAULT = "th"

_PART = re.compile(r"\s*(ack|outcome)\s*=\s*(\d+(?:\.\d+)?)\s*([dhw]?)\s*")
_UNIT_DAYS = {"": 1.0, "d": 1.0, "h": 1 / 24, "w": 7.0}


def parse_deadlines(text: str) -> Deadlines:
    """A preset (``th``, ``eu``) or ``ack=7d,outcome=90d``; ``ConfigError`` if neither."""
    key = text.strip().lower()
    if key in PRESETS:
        return PRESETS[key]
    days: dict[str, float] = {}
    for part in key.split(","):
        m = _PART.fullmatch(part)
        if m is None or m.group(1) in days:
            raise ConfigError(
                f"deadlines {text!r}: expected a preset ({', '.join(PRESETS)}) or "
                "'ack=7d,outcome=90d' (units d, h, w)"
            )
        days[m.group(1)] = float(m.group(2)) * _UNIT_DAYS[m.group(3)]
    if set(days) != {"ack", "outcome"}:
        raise ConfigError(f"deadlines {text!r}: give both ack= and outcome=")
    if days["ack"] <= 0 or days["outcome"] < days["ack"]:
        raise ConfigError(f"deadlines {text!r}: need 0 < ack <= outcome")
    return Deadlines(days["ack"], days["outcome"])
