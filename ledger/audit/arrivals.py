"""Each tip's arrival time, for its time to anchor: read from the service, checked before use.

The public log holds no arrival times: published, they would let a network observer link a
reporter's connection time to their entry. The service signs each tip's arrival in its promise
(EIP-712 ``Promise(commitment, receivedAt)``, PROTOCOL.md section 5) and serves the arrivals
with their signatures to signed-in oversight only (``GET /v1/log/arrivals``). The audit uses an
arrival only if its signature, over the commitment the audited log holds at that index,
recovers to an address that held ANCHORER_ROLE when the entry's first checkpoint was anchored
(the check a reporter's verifier makes of a receipt). Its time to anchor is then that
checkpoint's block time minus ``received_at``.

What a checked arrival shows wrong is a ``Violation``: a promise anchored later than
maxMergeDelay after its arrival (``promise-late``), or an arrival after its own anchoring. An
arrival whose signature does not check is one too (``arrival-signature``): the service signs
every promise it gives, so a bad one is the service's (or its path's) fault.
"""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import httpx
import orjson

from ledger.audit.checks import Violation
from ledger.audit.errors import SourceError
from ledger.audit.history import ChainHistory
from ledger.audit.sources import get_page
from ledger.chain.contract import ROLES, AnchoredEvent
from ledger.core.eip712 import recover_promise_signer
from ledger.core.encoding import checksum_address, to_hex
from ledger.core.errors import LedgerError
from ledger.store.submissions import SubmissionStore

__all__ = [
    "Arrival",
    "ArrivalCheck",
    "ArrivalSource",
    "HttpArrivalSource",
    "MemoryArrivalSource",
    "StoreArrivalSource",
]

_ANCHORER = ROLES["ANCHORER_ROLE"]
_LIST_CAP = 1_000  # violations of one kind kept in full; the rest are counted


@dataclass(frozen=True)
class Arrival:
    """A tip's arrival as the service states it: ``signer`` is the address it names."""

    index: int
    received_at: int
    signer: str
    signature: bytes


class ArrivalSource(Protocol):
    @property
    def description(self) -> str: ...

    def arrivals(self, start: int, end: int) -> Iterator[Arrival]:
        """The arrivals of entries ``start`` up to ``end`` that have one, by index."""


class MemoryArrivalSource:
    def __init__(self, arrivals: Sequence[Arrival]) -> None:
        self._arrivals = sorted(arrivals, key=lambda a: a.index)
        self._indices = [a.index for a in self._arrivals]

    @property
    def description(self) -> str:
        return "arrivals in memory"

    def arrivals(self, start: int, end: int) -> Iterator[Arrival]:
        lo = bisect.bisect_left(self._indices, start)
        hi = bisect.bisect_left(self._indices, end)
        return iter(self._arrivals[lo:hi])


class StoreArrivalSource:
    """The operator's own database (with ``--database``), read-only."""

    def __init__(self, submissions: SubmissionStore, page_size: int = 50_000) -> None:
        self._submissions = submissions
        self._page_size = page_size

    @property
    def description(self) -> str:
        return "the database"

    def arrivals(self, start: int, end: int) -> Iterator[Arrival]:
        pos = start
        while pos < end:
            rows = self._submissions.promises(pos, end, self._page_size)
            for index, received_at, signer, signature in rows:
                yield Arrival(index, received_at, checksum_address(signer), signature)
            if len(rows) < self._page_size:
                return
            pos = rows[-1][0] + 1


class HttpArrivalSource:
    """``GET /v1/log/arrivals`` with a signed-in oversight session's bearer token."""

    def __init__(
        self,
        api_url: str,
        token: str,
        *,
        timeout: float = 60.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.api_url = api_url.rstrip("/")
        self._headers = {"Authorization": f"Bearer {token}"}
        self._timeout = timeout
        self._transport = transport

    @property
    def description(self) -> str:
        return f"API {self.api_url} (signed in)"

    def probe(self) -> None:
        """Raise now if the session may not read arrivals (a 403 before the chain is read)."""
        with self._client() as client:
            self._fetch(client, 0, 0)

    def _client(self) -> httpx.Client:
        transport = self._transport or httpx.HTTPTransport(retries=2)
        return httpx.Client(
            base_url=self.api_url, timeout=self._timeout, transport=transport, headers=self._headers
        )

    def arrivals(self, start: int, end: int) -> Iterator[Arrival]:
        with self._client() as client:
            pos = start
            while pos < end:
                items, following = self._fetch(client, pos, end)
                yield from items
                if following <= pos:
                    return
                pos = following

    def _fetch(self, client: httpx.Client, start: int, end: int) -> tuple[list[Arrival], int]:
        where = f"{self.api_url}/v1/log/arrivals?start={start}&end={end}"
        response = get_page(client, self.api_url, "/v1/log/arrivals", start, end)
        try:
            data = orjson.loads(response.content)
            items = [
                Arrival(
                    int(a["leaf_index"]),
                    int(a["received_at"]),
                    str(a["signer"]),
                    bytes.fromhex(str(a["signature"]).removeprefix("0x")),
                )
                for a in data["arrivals"]
            ]
            following = int(data["next"])
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise SourceError(
                f"GET {where} did not answer {{'arrivals': [...], 'next': N}}"
            ) from exc
        if any(not start <= a.index < end for a in items):
            raise SourceError(f"GET {where} answered an arrival outside the range asked")
        return items, following


@dataclass
class ArrivalCheck:
    """Checks the arrivals page by page, as ``LogScan`` serves the entries (an ``on_page``
    hook), and counts the checked waits by the second."""

    history: ChainHistory
    anchors: Sequence[AnchoredEvent]  # increasing sizes
    source: ArrivalSource
    waits: Counter[int] = field(default_factory=Counter)
    violations: list[Violation] = field(default_factory=list)
    rejected: int = 0  # arrivals not used: their signature or signer did not check

    def __post_init__(self) -> None:
        self._sizes = [a.tree_size for a in self.anchors]
        self._counts: Counter[str] = Counter()

    @property
    def measured(self) -> int:
        return sum(self.waits.values())

    def page(self, start: int, page: Sequence[bytes]) -> None:
        end = start + len(page)
        for a in self.source.arrivals(start, end):
            if start <= a.index < end:
                self._check(a, page[a.index - start])

    def _check(self, a: Arrival, commitment: bytes) -> None:
        k = bisect.bisect_right(self._sizes, a.index)
        if k == len(self.anchors):
            return  # not anchored yet: no time to anchor
        anchor = self.anchors[k]
        h = self.history
        try:
            signer = recover_promise_signer(
                h.chain_id, h.contract, commitment, a.received_at, a.signature
            )
        except LedgerError:
            signer = ""
        if signer.lower() != a.signer.lower():
            self._reject(
                "arrival-signature",
                a,
                anchor,
                f"the promise signature over {to_hex(commitment)} and received_at "
                f"{a.received_at} does not recover to {a.signer}",
            )
            return
        if not h.roles.holds(_ANCHORER, signer, (anchor.block_number, anchor.log_index)):
            self._reject(
                "arrival-signature",
                a,
                anchor,
                f"the promise is signed by {signer}, which did not hold ANCHORER_ROLE when the "
                "entry was anchored",
            )
            return
        wait = anchor.timestamp - a.received_at
        if wait < 0:
            self._reject(
                "arrival-after-anchor",
                a,
                anchor,
                f"signed arrival {a.received_at} is {-wait} s after the entry's anchoring",
            )
            return
        if wait > h.max_merge_delay:
            self._add(
                Violation(
                    "promise-late",
                    f"anchored {wait} s after its signed arrival, beyond maxMergeDelay of "
                    f"{h.max_merge_delay} s",
                    block=anchor.block_number,
                    index=a.index,
                )
            )
        self.waits[wait] += 1

    def _reject(self, kind: str, a: Arrival, anchor: AnchoredEvent, message: str) -> None:
        self.rejected += 1
        self._add(Violation(kind, message, block=anchor.block_number, index=a.index))

    def _add(self, v: Violation) -> None:
        self._counts[v.kind] += 1
        if self._counts[v.kind] <= _LIST_CAP:
            self.violations.append(v)

    def notes(self) -> list[str]:
        return [
            f"{n - _LIST_CAP:,} more {kind} violation(s) not listed (first {_LIST_CAP:,} shown)"
            for kind, n in self._counts.items()
            if n > _LIST_CAP
        ]

    def median(self) -> float | None:
        """The median wait (the lower one of an even count), from the counts."""
        half, seen = (self.measured - 1) // 2, 0
        for wait in sorted(self.waits):
            seen += self.waits[wait]
            if seen > half:
                return float(wait)
        return None

    def worst(self) -> int | None:
        return max(self.waits) if self.waits else None
