"""Figures for the reporter's code (PROTOCOL.md 17.8): what one code costs the device, what one
code costs someone who stole the service's database, and what a code costs the service.

    .venv/bin/python scripts/bench_code.py [--runs 20] [--tips 2000]

1. Argon2id (t=3, m=64 MiB, p=1) per code on this machine, with argon2-cffi: the median of
   ``--runs`` ``code_keys`` calls (the device pays it once per submit and per follow-up).
2. Offline cost of one code for a database thief: the secret part is 45 bits, so a search finds
   it after 2^44 guesses on average, one Argon2id each (the KDF's salt is the tip's own locator:
   nothing is shared between tips); said in single-core years at the time measured in 1.
3. The service's cost of a version 3 submit beside a version 2 one: the same intake work per
   tip (the enrolment checked, the locator looked up, the row built), then the group commit of
   ``--tips`` tips with their follow-up rows in one transaction on SQLite. No Argon2 runs on the
   server for either: the figures should be alike.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from ledger.core.followup import device_enrolment, new_device_secret
from ledger.core.reporter_code import code_enrolment, code_keys, new_code
from ledger.followup.secrets import FailureLimiter
from ledger.followup.threads import FollowUps
from ledger.store import LogStore, open_database
from ledger.store.followups import FollowUpStore
from ledger.store.submissions import NewSubmission, SubmissionStore

SECONDS_PER_YEAR = 365.25 * 24 * 3600


def median_ms(fn: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1e3


def argon2_figures(runs: int) -> float:
    codes = [new_code() for _ in range(runs)]
    it = iter(codes)
    per_code = median_ms(lambda: code_keys(next(it)), runs)
    guesses = 2**44
    years = guesses * per_code / 1e3 / SECONDS_PER_YEAR
    print(f"Argon2id per code (t=3, m=64 MiB, p=1), median of {runs}: {per_code:,.0f} ms")
    print(
        f"offline cost of one code for a database thief: 2^44 guesses x {per_code:,.0f} ms = "
        f"{years:,.0f} core-years (64 MiB of memory per guess in flight)"
    )
    return per_code


class _NoReviews:
    def review_of(self, _commitment: bytes) -> None:
        return None


def service_figures(tips: int) -> None:
    with tempfile.TemporaryDirectory() as directory:
        engine = open_database(f"sqlite:///{Path(directory) / 'bench.sqlite3'}")
        store = FollowUpStore(engine)
        threads = FollowUps(
            store,
            None,
            reader=None,  # type: ignore[arg-type]  # not read by enrolment
            reviews=_NoReviews(),  # type: ignore[arg-type]
            limiter=FailureLimiter(),
        )
        submissions = SubmissionStore(LogStore(engine))
        # Enrolments as devices send them: version 2, and version 3 (the Argon2id on the device,
        # done here once per code before the clock starts).
        commitments = [os.urandom(32) for _ in range(tips)]
        v2 = [
            device_enrolment(new_device_secret(), c).to_json()
            for c in commitments[: min(tips, 200)]
        ]
        one_keys = code_keys(new_code())
        v3 = [
            {**code_enrolment(one_keys, c, os.urandom(32)).to_json(), "locator": new_code().locator}
            for c in commitments[: min(tips, 200)]
        ]

        def intake_work(enrolments: list[dict[str, object]]) -> Callable[[], object]:
            it = iter(range(10**9))

            def step() -> object:
                i = next(it) % len(enrolments)
                return threads.enrol_from_device(enrolments[i]).rows(commitments[i])

            return step

        runs = 2_000
        print(
            f"service, per tip (enrolment checked, row built), median "
            f"of {runs:,}: v2 {median_ms(intake_work(v2), runs) * 1e3:,.1f} us, "
            f"v3 {median_ms(intake_work(v3), runs) * 1e3:,.1f} us"
        )
        makers: dict[str, Callable[[bytes], object]] = {
            "v2": lambda c: threads.enrol_from_device(
                device_enrolment(new_device_secret(), c).to_json()
            ),
            "v3": lambda c: threads.enrol_from_device(
                {
                    **code_enrolment(one_keys, c, os.urandom(32)).to_json(),
                    "locator": new_code().locator,
                }
            ),
        }
        rounds = 5
        taken: dict[str, list[float]] = {name: [] for name in makers}
        for _ in range(rounds):  # alternated, so neither kind gets the warm cache alone
            for name, make in makers.items():
                batch = [NewSubmission(os.urandom(32), int(time.time())) for _ in range(tips)]
                extras = [make(item.commitment).rows(item.commitment) for item in batch]  # type: ignore[attr-defined]
                started = time.perf_counter()
                submissions.accept_each(batch, extras)
                taken[name].append(time.perf_counter() - started)
        for name, times in taken.items():
            seconds = statistics.median(times)
            print(
                f"group commit of {tips:,} tips with {name} follow-up rows (SQLite, one "
                f"transaction), median of {rounds}: {seconds * 1e3:,.0f} ms, "
                f"{tips / seconds:,.0f} tips/s"
            )
        engine.dispose()


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--tips", type=int, default=2_000)
    args = ap.parse_args()
    print(f"machine: {os.cpu_count()} CPUs")
    argon2_figures(args.runs)
    service_figures(args.tips)


if __name__ == "__main__":
    main()
