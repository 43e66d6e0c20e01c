"""Benchmark the incremental log (DESIGN.md targets: >= 300,000 appends/s in the core, proofs on
a 1,000,000-entry log under 0.2 ms) beside pymerkle's in-memory tree, and the SQLite store.

    .venv/bin/python scripts/bench_log.py [--size 1000000] [--no-store] [--no-pymerkle]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import tempfile
import time
from pathlib import Path

from ledger.core import merkle
from ledger.core.tree import MerkleTree


def rate(n: int, seconds: float) -> str:
    return f"{n / seconds:>12,.0f} /s"


def time_proofs(fn, args_list) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    times = []
    for args in args_list:
        t = time.perf_counter()
        fn(*args)
        times.append(time.perf_counter() - t)
    times.sort()
    return statistics.median(times) * 1e3, times[int(len(times) * 0.99)] * 1e3


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=1_000_000)
    ap.add_argument("--proofs", type=int, default=2_000)
    ap.add_argument("--no-store", action="store_true")
    ap.add_argument("--no-pymerkle", action="store_true")
    args = ap.parse_args()
    n = args.size
    rng = random.Random(1)
    entries = [os.urandom(32) for _ in range(n)]
    print(f"log of {n:,} random 32-byte commitments, Python {os.sys.version.split()[0]}")
    print()
    print(f"{'what':<46}{'figure':>22}")

    tree = MerkleTree()
    t = time.perf_counter()
    for e in entries:
        tree.append(e)
    print(f"{'TipLedger append, one entry a call':<46}{rate(n, time.perf_counter() - t):>22}")

    batched = MerkleTree()
    t = time.perf_counter()
    for i in range(0, n, 1024):
        batched.extend(entries[i : i + 1024])
    print(f"{'TipLedger extend, batches of 1,024':<46}{rate(n, time.perf_counter() - t):>22}")
    assert batched.root() == tree.root()

    if not args.no_pymerkle:
        from pymerkle import InmemoryTree

        pm = InmemoryTree(algorithm="sha256")
        t = time.perf_counter()
        for e in entries:
            pm.append_entry(e)
        print(f"{'pymerkle InmemoryTree.append_entry':<46}{rate(n, time.perf_counter() - t):>22}")
        # Both follow RFC 9162, so the heads must agree.
        assert pm.get_root() == tree.root(), "pymerkle and TipLedger disagree on the root"

    size = tree.size
    incl = [(rng.randrange(size), size) for _ in range(args.proofs)]
    med, p99 = time_proofs(tree.inclusion_proof, incl)
    print(f"{'inclusion proof at 1M (median / p99)':<46}{f'{med:.4f} / {p99:.4f} ms':>22}")
    cons = [(rng.randrange(1, size), size) for _ in range(args.proofs)]
    med, p99 = time_proofs(tree.consistency_proof, cons)
    print(f"{'consistency proof to 1M (median / p99)':<46}{f'{med:.4f} / {p99:.4f} ms':>22}")
    i = incl[0][0]
    proof = tree.inclusion_proof(i)
    med, p99 = time_proofs(
        merkle.verify_inclusion,
        [(merkle.leaf_hash(entries[i]), i, size, proof, tree.root())] * args.proofs,
    )
    print(f"{'inclusion proof verification':<46}{f'{med:.4f} / {p99:.4f} ms':>22}")

    if not args.no_store:
        from ledger.store import LogStore, open_database

        with tempfile.TemporaryDirectory() as d:
            url = f"sqlite:///{Path(d) / 'bench.sqlite3'}"
            store = LogStore(open_database(url))
            t = time.perf_counter()
            for i in range(0, n, 65_536):
                store.append(entries[i : i + 65_536])
            print(
                f"{'SQLite store append, batches of 65,536':<46}"
                f"{rate(n, time.perf_counter() - t):>22}"
            )
            t = time.perf_counter()
            for _ in range(200):
                store.append([os.urandom(32)])
            per = (time.perf_counter() - t) / 200 * 1e3
            print(f"{'SQLite store append, one durable tx each':<46}{f'{per:.2f} ms':>22}")
            fresh = LogStore(open_database(url))
            t = time.perf_counter()
            loaded = fresh.tree()
            print(
                f"{'SQLite store load of the whole tree':<46}"
                f"{f'{(time.perf_counter() - t) * 1e3:.0f} ms':>22}"
            )
            assert loaded.root(n) == tree.root()


if __name__ == "__main__":
    main()
