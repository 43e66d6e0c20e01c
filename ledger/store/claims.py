"""Claims: a companion row's value in a column with a unique index of its own (a code's
locator, ``follow_ups.locator``) that a new tip takes for itself.

In the batch's transaction the store reads who holds each claimed value; an item whose claim
another commitment holds (stored before, or an earlier item of the same batch) is refused alone,
its outcome a ``ConflictError`` with the index's ``info["taken"]`` line, and nothing of it is
stored, while every other item of the batch is. Without this, one taken value would fail the
unique index and with it the whole group commit.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import Connection, Table, select

from ledger.errors import ConflictError

__all__ = ["Claim", "claims_of", "refusals"]

_IN_BATCH = 500
Companions = Sequence[tuple[Table, Mapping[str, Any]]]  # as ledger.store.submissions names it


class HasCommitment(Protocol):
    @property
    def commitment(self) -> bytes: ...


@dataclass(frozen=True)
class Claim:
    """One companion row's value in one unique column."""

    table: Table
    column: str
    value: object
    taken: str  # the refusal's line


_CLAIM_COLUMNS: dict[Table, tuple[tuple[str, str], ...]] = {}


def _claim_columns(table: Table) -> tuple[tuple[str, str], ...]:
    """``(column, refusal)`` for each single-column unique index of ``table``."""
    found = _CLAIM_COLUMNS.get(table)
    if found is None:
        found = tuple(
            (
                index.columns[0].name,
                str(index.info.get("taken", f"this {index.columns[0].name} is taken")),
            )
            for index in sorted(table.indexes, key=lambda i: str(i.name))
            if index.unique and len(index.columns) == 1
        )
        _CLAIM_COLUMNS[table] = found
    return found


def claims_of(rows: Companions) -> list[Claim]:
    """The claims of one item's companion rows (none for most tips)."""
    return [
        Claim(table, column, values[column], taken)
        for table, values in rows
        for column, taken in _claim_columns(table)
        if values.get(column) is not None
    ]


def refusals(
    conn: Connection, items: Sequence[HasCommitment], claims: Sequence[Sequence[Claim]]
) -> dict[int, ConflictError]:
    """The items whose claims are held by another commitment (stored, or earlier in ``items``).

    A claim held by the item's own commitment is its repeat, stored before: not refused (it
    stores nothing new anyway). On SQLite the transaction holds the write lock (BEGIN
    IMMEDIATE), so what this reads cannot change before the commit; on PostgreSQL a claim
    committed meanwhile makes the insert fail, and the caller retries.
    """
    wanted: dict[tuple[Table, str], set[object]] = {}
    for item_claims in claims:
        for c in item_claims:
            wanted.setdefault((c.table, c.column), set()).add(c.value)
    holders: dict[tuple[Table, str, object], bytes] = {}
    for (table, column), values in wanted.items():
        col, key = table.c[column], table.c.commitment
        listed = list(values)
        for i in range(0, len(listed), _IN_BATCH):
            for value, commitment in conn.execute(
                select(col, key).where(col.in_(listed[i : i + _IN_BATCH]))
            ).all():
                holders[(table, column, value)] = bytes(commitment)
    refused: dict[int, ConflictError] = {}
    for i, (item, item_claims) in enumerate(zip(items, claims, strict=True)):
        for c in item_claims:
            holder = holders.get((c.table, c.column, c.value))
            if holder is not None and holder != item.commitment:
                refused[i] = ConflictError(c.taken)
                break
        else:
            for c in item_claims:  # held from now on by this item, for the items after it
                holders.setdefault((c.table, c.column, c.value), item.commitment)
    return refused
