"""Schemathesis against the live OpenAPI document: generated input, valid and not, never a 5xx.

Bounded: a few examples per operation (the point is breadth, not depth; the hand-written bad
inputs in test_api.py cover the known edges), no time deadline per example on a shared machine.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from .conftest import Server

pytestmark = pytest.mark.chain

EXAMPLES = 25


def test_no_generated_input_gives_a_server_error(server: Server) -> None:
    schema = schemathesis.openapi.from_url(f"{server.url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 9
    failures: list[str] = []
    calls: dict[str, int] = {}
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def check(case) -> None:  # type: ignore[no-untyped-def]
            response = case.call(base_url=server.url, timeout=30)
            where = f"{case.method} {case.formatted_path}"
            calls[case.operation.label] = calls.get(case.operation.label, 0) + 1
            if response.status_code >= 500:
                failures.append(f"{where} -> {response.status_code}: {response.text[:300]}")
            elif response.status_code >= 400:
                detail = response.json().get("detail")
                if not isinstance(detail, str) or not detail:
                    failures.append(f"{where} -> {response.status_code} without a detail")

        check()
    assert not failures, "\n".join(failures[:20])
    assert len(calls) == len(operations)
    assert sum(calls.values()) >= 5 * len(operations), calls
