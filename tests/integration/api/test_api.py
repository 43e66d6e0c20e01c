"""The HTTP API over real HTTP: a uvicorn server, the service's sequencer, a real Anvil, and the
database on SQLite and PostgreSQL. Every route's success, every bad input a 4xx with a message."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy import create_engine, select

from ledger.core import merkle
from ledger.core.commitment import ZERO_AUTHOR, commitment, content_digest, new_salt
from ledger.core.encoding import from_hex, to_hex
from ledger.core.receipt import Receipt
from ledger.desk.envelope import open_tip
from ledger.errors import EnvelopeError
from ledger.store.schema import submissions
from ledger.verify import verify_receipt

from .conftest import MAX_BODY, Server

pytestmark = pytest.mark.chain

AUTHOR = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def submit(client: httpx.Client, document: bytes, **extra: Any) -> dict[str, Any]:
    response = client.post("/v1/tips", json={"document": b64(document), **extra})
    assert response.status_code == 202, response.text
    body: dict[str, Any] = response.json()
    return body


def wait_anchored(client: httpx.Client, commitment_hex: str, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        response = client.get(f"/v1/tips/{commitment_hex}/receipt")
        assert response.status_code in (200, 202), response.text
        if response.status_code == 200:
            data: dict[str, Any] = response.json()
            assert data["status"] == "anchored"
            return data
        assert response.json()["status"] == "pending"
        assert time.monotonic() < deadline, "not anchored in time"
        time.sleep(0.1)


def full_receipt(accepted: dict[str, Any], fetched: dict[str, Any]) -> Receipt:
    return Receipt.from_dict({**accepted["receipt"], "inclusion": fetched["inclusion"]})


# --- submitting ------------------------------------------------------------------------------


def test_submit_json_gives_a_pending_receipt_then_an_anchored_one(
    server: Server, client: httpx.Client, tmp_path: Path
) -> None:
    document = "Procurement fraud at office X: invoice 4711 paid twice ผู้แจ้ง".encode()
    accepted = submit(client, document)
    receipt = accepted["receipt"]
    # PROTOCOL.md 6, exactly as the model writes it, inclusion null until anchored
    assert Receipt.from_dict(receipt).to_dict() == receipt
    assert list(receipt) == [
        "format",
        "chain_id",
        "contract",
        "commitment",
        "salt",
        "content_digest",
        "author",
        "promise",
        "inclusion",
    ]
    assert receipt["inclusion"] is None
    assert accepted["commitment"] == receipt["commitment"]
    assert accepted["promise"] == receipt["promise"]
    assert receipt["chain_id"] == server.deployment.chain_id
    assert receipt["contract"] == server.deployment.address
    assert receipt["author"] == "0x" + "00" * 20
    assert receipt["content_digest"] == to_hex(hashlib.sha256(document).digest())
    salt = from_hex(receipt["salt"], 32)  # made by the service, returned only here
    assert receipt["commitment"] == to_hex(commitment(salt, content_digest(document), ZERO_AUTHOR))
    assert receipt["promise"]["received_at"] == pytest.approx(time.time(), abs=5)
    assert isinstance(receipt["promise"]["received_at"], int)

    fetched = wait_anchored(client, accepted["commitment"])
    assert fetched["promise"] == receipt["promise"]
    assert "salt" not in fetched  # the service cannot read it
    full = full_receipt(accepted, fetched)
    verdict = verify_receipt(full, document, server.w3)
    assert verdict.ok, verdict.summary()

    # ... and the CLI, with nothing but the chain, accepts it too
    path = tmp_path / "receipt.json"
    path.write_text(full.to_json())
    env = {**os.environ, "TIPLEDGER_HOME": str(tmp_path / "empty-home"), "NO_COLOR": "1"}
    env.pop("TIPLEDGER_RPC_URL", None)
    done = subprocess.run(
        [sys.executable, "-m", "ledger.cli", "verify", str(path), "--rpc", server.rpc_url],
        input=document.decode(),
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    command = [sys.executable, "-m", "ledger.cli", "verify", str(path), "--rpc", server.rpc_url]
    done = subprocess.run(
        [*command, "--document", "-"],
        input=document.decode(),
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "VALID: the document existed" in done.stdout


def test_client_salt_and_author_are_used_and_a_repeat_returns_the_same_entry(
    server: Server, client: httpx.Client
) -> None:
    document = b"the same tip, sent twice"
    salt = new_salt()
    first = submit(client, document, salt=to_hex(salt), author=AUTHOR.lower())
    expected = commitment(salt, content_digest(document), AUTHOR)
    assert first["commitment"] == to_hex(expected)
    assert first["receipt"]["author"] == AUTHOR  # EIP-55 in the receipt
    time.sleep(1.1)  # a later second: a new promise would differ
    second = submit(client, document, salt=to_hex(salt), author=AUTHOR)
    assert second["commitment"] == first["commitment"]
    assert second["promise"] == first["promise"]  # the stored one
    a = wait_anchored(client, first["commitment"])
    third = submit(client, document, salt=to_hex(salt), author=AUTHOR)
    assert third["promise"] == first["promise"]
    b = wait_anchored(client, third["commitment"])
    assert a["leaf_index"] == b["leaf_index"]
    entries = client.get(
        "/v1/log/entries", params={"start": 0, "end": b["inclusion"]["tree_size"]}
    ).json()["entries"]
    assert entries.count(first["commitment"]) == 1


def test_concurrent_submissions_are_group_committed(server: Server) -> None:
    import asyncio
    import concurrent.futures

    async def many() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=server.url, timeout=60) as ac:
            return await asyncio.gather(
                *(ac.post("/v1/tips", json={"document": b64(os.urandom(64))}) for _ in range(200))
            )

    batches_before = server.service.intake.stats.batches
    # In a thread of its own: a session-scoped Playwright (tests/e2e) may keep an event loop
    # running in this thread, where asyncio.run() refuses to start another.
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        responses = pool.submit(lambda: asyncio.run(many())).result()
    assert all(r.status_code == 202 for r in responses)
    commitments = {r.json()["commitment"] for r in responses}
    assert len(commitments) == 200
    assert server.service.intake.stats.batches - batches_before < 200  # grouped
    last = responses[-1].json()["commitment"]
    wait_anchored(httpx.Client(base_url=server.url, timeout=30), last)


def test_multipart_with_attachments_commits_them_by_digest(
    server: Server, client: httpx.Client
) -> None:
    files = [
        ("files", ("order-1.pdf", b"%PDF-1.4 first order", "application/pdf")),
        ("files", ("order-2.bin", os.urandom(2000), "application/octet-stream")),
    ]
    salt = new_salt()
    response = client.post(
        "/v1/tips",
        data={"document": "Invoice 4711 paid twice; both orders attached.", "salt": to_hex(salt)},
        files=files,
    )
    assert response.status_code == 202, response.text
    body = response.json()
    document = base64.b64decode(body["document"])
    parsed = json.loads(document)
    assert parsed["text"] == "Invoice 4711 paid twice; both orders attached."
    assert [a["name"] for a in parsed["attachments"]] == ["order-1.pdf", "order-2.bin"]
    for (_field, (_name, data, ctype)), listed in zip(files, parsed["attachments"], strict=True):
        assert listed["sha256"] == to_hex(hashlib.sha256(data).digest())
        assert listed["size"] == len(data)
        assert listed["type"] == ctype
    # deterministic: sorted keys, no whitespace, UTF-8
    assert document == orjson.dumps(parsed, option=orjson.OPT_SORT_KEYS)
    assert body["commitment"] == to_hex(commitment(salt, content_digest(document), ZERO_AUTHOR))
    fetched = wait_anchored(client, body["commitment"])
    assert verify_receipt(full_receipt(body, fetched), document, server.w3).ok

    # the same parts give the same document, so the same commitment (an idempotent repeat)
    again = client.post(
        "/v1/tips",
        data={"document": "Invoice 4711 paid twice; both orders attached.", "salt": to_hex(salt)},
        files=files,
    )
    assert again.json()["commitment"] == body["commitment"]


def test_the_database_holds_only_ciphertext(server: Server, client: httpx.Client) -> None:
    marker = b"UNIQUE-MARKER-" + os.urandom(8).hex().encode()
    document = marker + b" was paid twice, says the reporter"
    accepted = submit(client, document, author=AUTHOR)
    commitment_bytes = from_hex(accepted["commitment"], 32)
    salt = from_hex(accepted["receipt"]["salt"], 32)
    wait_anchored(client, accepted["commitment"])
    engine = create_engine(server.database_url)
    try:
        with engine.connect() as conn:
            row = conn.execute(
                select(submissions).where(submissions.c.commitment == commitment_bytes)
            ).one()
            every_row = conn.execute(select(submissions)).all()
    finally:
        engine.dispose()
    envelope = bytes(row.envelope)
    assert marker not in envelope
    assert salt not in envelope
    for r in every_row:
        for value in r:
            if isinstance(value, bytes | memoryview):
                assert marker not in bytes(value)
                assert content_digest(document) not in bytes(value)
    if server.sqlite_file is not None:  # not in the file, the WAL or anywhere on disk beside it
        for path in server.sqlite_file.parent.iterdir():
            data = path.read_bytes()
            assert marker not in data, path
            assert salt not in data, path
            assert content_digest(document) not in data, path
    # ... yet a member of the agency holding the case opens it, with their grant of its key
    # (the envelope is sealed to the case key, not to the member's own)
    with pytest.raises(EnvelopeError):
        open_tip(server.desk_private, envelope, commitment_bytes)
    opened = open_tip(server.case_key(accepted["commitment"]), envelope, commitment_bytes)
    assert opened.document == document
    assert opened.salt == salt
    assert to_hex(opened.author) == AUTHOR.lower()


def test_no_client_address_or_request_line_is_logged(server: Server) -> None:
    sock = socket.create_connection(("127.0.0.1", int(server.url.rsplit(":", 1)[1])))
    client_port = sock.getsockname()[1]
    body = json.dumps({"document": b64(b"logged?")}).encode()
    sock.sendall(
        b"POST /v1/tips HTTP/1.1\r\nHost: x\r\nUser-Agent: reporter-agent/9.9\r\n"
        b"X-Forwarded-For: 203.0.113.9\r\nContent-Type: application/json\r\n"
        + f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
        + body
    )
    answer = b""
    while chunk := sock.recv(65536):
        answer += chunk
    sock.close()
    assert answer.startswith(b"HTTP/1.1 202"), answer[:200]
    assert b"server:" not in answer.lower().split(b"\r\n\r\n")[0]
    text = "\n".join(server.logs)
    assert f":{client_port}" not in text
    assert "203.0.113.9" not in text
    assert "reporter-agent" not in text
    assert "POST /v1/tips" not in text
    assert not any(line.startswith("uvicorn.access") for line in server.logs)


# --- bad input: always a 4xx with a readable message ------------------------------------------

BAD_REQUESTS: list[tuple[str, str, dict[str, Any], int, str]] = [
    ("POST", "/v1/tips", {"json": {"document": "not base64!!"}}, 422, "base64"),
    ("POST", "/v1/tips", {"json": {"document": ""}}, 422, "empty"),
    ("POST", "/v1/tips", {"json": {}}, 422, "document"),
    ("POST", "/v1/tips", {"json": {"document": 42}}, 422, "base64"),
    ("POST", "/v1/tips", {"json": [1, 2]}, 422, "object"),
    (
        "POST",
        "/v1/tips",
        {"content": b"{not json", "headers": {"content-type": "application/json"}},
        422,
        "JSON",
    ),
    (
        "POST",
        "/v1/tips",
        {"content": b"", "headers": {"content-type": "application/json"}},
        422,
        "empty",
    ),
    ("POST", "/v1/tips", {"json": {"document": "aGk=", "salt": "0x1234"}}, 422, "salt"),
    ("POST", "/v1/tips", {"json": {"document": "aGk=", "salt": "0x" + "zz" * 32}}, 422, "salt"),
    ("POST", "/v1/tips", {"json": {"document": "aGk=", "salt": 7}}, 422, "salt"),
    ("POST", "/v1/tips", {"json": {"document": "aGk=", "author": "0x1234"}}, 422, "author"),
    (
        "POST",
        "/v1/tips",
        {"json": {"document": "aGk=", "author": "0x70997970c51812dc3A010C7d01b50e0d17dc79C8"}},
        422,
        "checksum",
    ),
    ("POST", "/v1/tips", {"json": {"document": "aGk=", "colour": "red"}}, 422, "unknown field"),
    (
        "POST",
        "/v1/tips",
        {"content": b"hello", "headers": {"content-type": "text/plain"}},
        422,
        "Content-Type",
    ),
    (
        "POST",
        "/v1/tips",
        {
            "content": b"--x\r\nbroken",
            "headers": {"content-type": "multipart/form-data; boundary=x"},
        },
        422,
        "document",
    ),
    (
        "POST",
        "/v1/tips",
        {"content": b"junk", "headers": {"content-type": "multipart/form-data"}},
        422,
        "boundary",
    ),
    ("POST", "/v1/tips", {"files": [("files", ("a.txt", b"x", "text/plain"))]}, 422, "document"),
    (
        "POST",
        "/v1/tips",
        {"data": {"document": "t"}, "files": [("files", ("", b"x", "text/plain"))]},
        422,
        "file name",
    ),
    (
        "POST",
        "/v1/tips",
        {"data": {"document": "t", "extra": "1"}, "files": [("files", ("a", b"x"))]},
        422,
        "unknown multipart field",
    ),
    (
        "POST",
        "/v1/tips",
        {"data": {"document": "t", "salt": "0x12"}, "files": [("files", ("a", b"x"))]},
        422,
        "salt",
    ),
    ("GET", "/v1/tips/0x1234/receipt", {}, 422, "commitment"),
    ("GET", "/v1/tips/nothex/receipt", {}, 422, "commitment"),
    ("GET", "/v1/tips/0x" + "ab" * 32 + "/receipt", {}, 404, "no tip"),
    ("GET", "/v1/log/proof/inclusion", {"params": {"index": 5, "size": 3}}, 400, "index"),
    ("GET", "/v1/log/proof/inclusion", {"params": {"index": 0, "size": 0}}, 400, "size"),
    ("GET", "/v1/log/proof/inclusion", {"params": {"index": -1, "size": 3}}, 422, "index"),
    ("GET", "/v1/log/proof/inclusion", {"params": {"index": "x", "size": 3}}, 422, "index"),
    ("GET", "/v1/log/proof/inclusion", {"params": {"size": 3}}, 422, "index"),
    ("GET", "/v1/log/proof/inclusion", {"params": {"index": 0, "size": 2**64}}, 422, "size"),
    ("GET", "/v1/log/proof/inclusion", {"params": {"index": 0, "size": 2**63}}, 404, "anchored"),
    ("GET", "/v1/log/proof/consistency", {"params": {"first": 0, "second": 3}}, 400, "first"),
    ("GET", "/v1/log/proof/consistency", {"params": {"first": 4, "second": 3}}, 400, "second"),
    (
        "GET",
        "/v1/log/proof/consistency",
        {"params": {"first": 1, "second": 2**40}},
        404,
        "anchored",
    ),
    ("GET", "/v1/log/entries", {"params": {"start": 5, "end": 2}}, 400, "end"),
    ("GET", "/v1/log/entries", {"params": {"start": -5, "end": 2}}, 422, "start"),
    ("POST", "/v1/verify", {"json": {"receipt": {"format": "nope"}}}, 422, "receipt"),
    ("POST", "/v1/verify", {"json": {"receipt": "{not json"}}, 422, "receipt"),
    ("POST", "/v1/verify", {"json": {"receipt": [1]}}, 422, "receipt"),
    ("POST", "/v1/verify", {"json": {}}, 422, "receipt"),
    ("POST", "/v1/verify", {"json": {"receipt": {}, "document": "%%%"}}, 422, "receipt"),
    (
        "POST",
        "/v1/verify",
        {"content": b"[" * 100_000, "headers": {"content-type": "application/json"}},
        413,
        "limit",
    ),
    (
        "POST",
        "/v1/verify",
        {"content": b"[" * 5_000 + b"]" * 5_000, "headers": {"content-type": "application/json"}},
        422,
        "JSON",
    ),
    ("GET", "/v1/nothing", {}, 404, "Not Found"),
    ("DELETE", "/v1/tips", {}, 405, "Method Not Allowed"),
]


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status", "fragment"),
    BAD_REQUESTS,
    ids=[f"{m} {p[:40]} {s} {f}" for m, p, _k, s, f in BAD_REQUESTS],
)
def test_bad_input_is_a_4xx_with_a_message(
    client: httpx.Client,
    method: str,
    path: str,
    kwargs: dict[str, Any],
    status: int,
    fragment: str,
) -> None:
    response = client.request(method, path, **kwargs)
    assert response.status_code == status, response.text
    detail = response.json()["detail"]
    assert isinstance(detail, str)
    assert fragment.lower() in detail.lower(), detail


def test_malformed_receipts_are_422_never_5xx(server: Server, client: httpx.Client) -> None:
    accepted = submit(client, b"a tip to mangle")
    good = wait_anchored(client, accepted["commitment"])
    base = {**accepted["receipt"], "inclusion": good["inclusion"]}
    mangled: list[Any] = [
        {**base, "chain_id": "31337"},
        {**base, "chain_id": 0},
        {**base, "salt": "0x00"},
        {**base, "contract": "0x1234"},
        {**base, "inclusion": {**base["inclusion"], "proof": ["0x12"]}},
        {**base, "inclusion": {**base["inclusion"], "leaf_index": -1}},
        {**base, "inclusion": {**base["inclusion"], "tree_size": 2**64}},
        {**base, "promise": {"received_at": "soon"}},
        {k: v for k, v in base.items() if k != "commitment"},
        {**base, "format": "tipledger-receipt/2"},
    ]
    for receipt in mangled:
        response = client.post("/v1/verify", json={"receipt": receipt})
        assert response.status_code == 422, (receipt, response.text)
        assert "receipt" in response.json()["detail"]
    # well-formed but naming a contract with no code on this chain: not verifiable, not a 5xx
    elsewhere = {**base, "contract": "0x" + "12" * 20}
    response = client.post("/v1/verify", json={"receipt": elsewhere})
    assert response.status_code in (200, 422), response.text
    if response.status_code == 200:
        assert response.json()["valid"] is False


def test_oversize_bodies_are_refused_with_413(server: Server) -> None:
    host, port = "127.0.0.1", int(server.url.rsplit(":", 1)[1])
    # declared too large: refused before a byte of the body is read
    with socket.create_connection((host, port)) as sock:
        sock.sendall(
            b"POST /v1/tips HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            + f"Content-Length: {MAX_BODY + 1}\r\n\r\n".encode()
        )
        head = b""
        while chunk := sock.recv(65536):  # the server closes the connection after answering
            head += chunk
    assert head.startswith(b"HTTP/1.1 413"), head
    assert b"limit" in head
    # chunked, no length: counted while it streams in
    with httpx.Client(base_url=server.url, timeout=30) as c:

        def chunks():  # type: ignore[no-untyped-def]
            yield b'{"document": "'
            for _ in range(MAX_BODY // 1000 + 5):
                yield b"A" * 1000

        response = c.post(
            "/v1/tips", content=chunks(), headers={"content-type": "application/json"}
        )
        assert response.status_code == 413
        assert "limit" in response.json()["detail"]
        # one under the limit is fine
        document = os.urandom((MAX_BODY - 100) * 3 // 4)
        ok = c.post("/v1/tips", json={"document": b64(document)})
        assert ok.status_code == 202, ok.text
        # multipart too
        big = c.post(
            "/v1/tips", data={"document": "t"}, files=[("files", ("a", b"x" * (MAX_BODY + 10)))]
        )
        assert big.status_code == 413


# --- the log, for auditors ---------------------------------------------------------------------


def test_checkpoint_proofs_and_entries(server: Server, client: httpx.Client) -> None:
    for i in range(5):
        last = submit(client, f"log tip {i}".encode())
    wait_anchored(client, last["commitment"])
    cp = client.get("/v1/log/checkpoint")
    assert cp.status_code == 200
    checkpoint = cp.json()
    assert set(checkpoint) == {
        "tree_size",
        "root_hash",
        "anchor_tx",
        "block_number",
        "block_timestamp",
    }
    size = checkpoint["tree_size"]
    root = from_hex(checkpoint["root_hash"], 32)
    on_chain = server.service.w3.eth.get_transaction_receipt(checkpoint["anchor_tx"])
    assert on_chain["blockNumber"] == checkpoint["block_number"]

    entries: list[str] = []
    while len(entries) < size:
        page = client.get("/v1/log/entries", params={"start": len(entries), "end": size})
        assert page.status_code == 200
        got = page.json()["entries"]
        assert got
        entries += got
    leaves = [merkle.leaf_hash(from_hex(e, 32)) for e in entries]
    assert merkle.root_from_leaf_hashes(leaves) == root
    # beyond the anchored size: fewer (none) than asked, never an error
    assert client.get("/v1/log/entries", params={"start": size, "end": size + 10}).json() == {
        "entries": []
    }

    for index in (0, size // 2, size - 1):
        proof = client.get("/v1/log/proof/inclusion", params={"index": index, "size": size})
        assert proof.status_code == 200
        path = [from_hex(h, 32) for h in proof.json()["proof"]]
        assert merkle.verify_inclusion(leaves[index], index, size, path, root)

    for first in (1, max(1, size // 2), size):
        proof = client.get("/v1/log/proof/consistency", params={"first": first, "second": size})
        assert proof.status_code == 200
        path = [from_hex(h, 32) for h in proof.json()["proof"]]
        first_root = merkle.root_from_leaf_hashes(leaves[:first])
        assert merkle.verify_consistency(first, size, first_root, root, path)


def test_entries_are_paged(server: Server, client: httpx.Client, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import ledger.log.reader as reader_module

    for i in range(3):
        last = submit(client, f"paged {i}".encode())
    wait_anchored(client, last["commitment"])
    reader = server.service.reader
    monkeypatch.setattr(reader_module, "ENTRIES_PAGE_LIMIT", 2)
    monkeypatch.setattr(
        reader, "entries", lambda start, end: type(reader).entries(reader, start, end, limit=2)
    )
    page = client.get("/v1/log/entries", params={"start": 0, "end": 100}).json()["entries"]
    assert len(page) == 2


# --- verify, health, metrics, OpenAPI ----------------------------------------------------------


def test_verify_route_gives_the_cli_verdict(server: Server, client: httpx.Client) -> None:
    document = b"verify me over HTTP"
    accepted = submit(client, document)
    pending = client.post("/v1/verify", json={"receipt": accepted["receipt"]})
    assert pending.status_code == 200
    assert pending.json()["pending"] is True
    assert pending.json()["valid"] is False
    fetched = wait_anchored(client, accepted["commitment"])
    receipt = full_receipt(accepted, fetched)
    good = client.post("/v1/verify", json={"receipt": receipt.to_dict(), "document": b64(document)})
    assert good.status_code == 200
    verdict = good.json()
    expected = verify_receipt(receipt, document, server.w3)
    assert verdict["valid"] is True
    assert verdict["summary"] == expected.summary()
    assert verdict["proven_time"] == receipt.inclusion.block_timestamp  # type: ignore[union-attr]
    assert [c["name"] for c in verdict["checks"]] == [c.name for c in expected.checks]
    as_text = client.post("/v1/verify", json={"receipt": receipt.to_json()})
    assert as_text.json()["valid"] is True
    wrong = client.post("/v1/verify", json={"receipt": receipt.to_dict(), "document": b64(b"no")})
    assert wrong.status_code == 200
    assert wrong.json()["valid"] is False
    assert "INVALID" in wrong.json()["summary"]


def test_health_and_metrics(server: Server, client: httpx.Client) -> None:
    last = submit(client, b"for the metrics")
    wait_anchored(client, last["commitment"])
    health = client.get("/healthz")
    assert health.status_code == 200
    h = health.json()
    assert h["ok"] is True
    assert h["accepting"] is True
    assert h["chain_id"] == server.deployment.chain_id
    assert h["anchored_size"] >= 1
    seq = h["sequencer"]
    assert seq["running"] is True
    assert seq["is_leader"] is True
    assert seq["halted"] is False
    assert seq["last_error"] is None
    assert seq["last_anchor"]["tree_size"] >= 1
    client.get("/metrics")  # the first scrape starts the latency histogram
    more = submit(client, b"timed")
    wait_anchored(client, more["commitment"])
    metrics = client.get("/metrics")
    assert metrics.status_code == 200
    assert metrics.headers["content-type"].startswith("text/plain")
    values = {
        line.split()[0]: float(line.split()[1])
        for line in metrics.text.splitlines()
        if line and not line.startswith("#")
    }
    assert values["tipledger_submissions_accepted_total"] >= 2
    assert values["tipledger_intake_batches_total"] >= 1
    assert values["tipledger_sequencer_anchors_total"] >= 1
    assert values["tipledger_sequencer_batches_total"] >= 1
    assert "tipledger_pending_submissions" in values
    assert values["tipledger_anchor_latency_seconds_count"] >= 1
    assert values['tipledger_anchor_latency_seconds_bucket{le="+Inf"}'] >= 1


def test_openapi_is_complete_with_examples(client: httpx.Client) -> None:
    spec = client.get("/openapi.json").json()
    paths = spec["paths"]
    for path, method in [
        ("/v1/tips", "post"),
        ("/v1/tips/{commitment}/receipt", "get"),
        ("/v1/log/checkpoint", "get"),
        ("/v1/log/proof/inclusion", "get"),
        ("/v1/log/proof/consistency", "get"),
        ("/v1/log/entries", "get"),
        ("/v1/verify", "post"),
        ("/healthz", "get"),
        ("/metrics", "get"),
    ]:
        assert method in paths[path], path
    body = paths["/v1/tips"]["post"]["requestBody"]["content"]
    assert {"application/json", "multipart/form-data"} <= set(body)
    schemas = spec["components"]["schemas"]
    for name in (
        "TipRequest",
        "TipMultipart",
        "TipAccepted",
        "ReceiptModel",
        "ReceiptStatus",
        "PromiseModel",
        "InclusionModel",
        "CheckpointModel",
        "ProofModel",
        "EntriesModel",
        "VerifyRequest",
        "VerdictModel",
        "HealthModel",
        "ErrorModel",
    ):
        assert name in schemas, name
        assert schemas[name].get("examples"), f"{name} has no example"
    # every query and path parameter has an example too
    for path, ops in paths.items():
        for op in ops.values():
            for param in op.get("parameters", []):
                assert param.get("examples") or param["schema"].get("examples"), (path, param)
    docs = client.get("/docs")
    assert docs.status_code == 200
