"""The browser's log-tile code (api/web/static/js/tiles.js) against ledger.core.tiles, in Chromium.

The known answers are tests/fixtures/tile_vectors.json (scripts/make_tile_vectors.py): C2SP index
paths, the tiles a verifier fetches for (leaf, size), the inclusion proof built from them and the
tree's root. Tampered or short tiles must not prove anything. Fetching goes over real HTTP, from
a small server on loopback serving the vector tiles with the service's headers.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest

from .conftest import ServedApp, phone_tab

pytestmark = pytest.mark.e2e

VECTORS = json.loads(
    (Path(__file__).resolve().parents[1] / "fixtures" / "tile_vectors.json").read_text()
)

PRELUDE = """
const P = await import('/web/js/protocol.js');
const T = await import('/web/js/tiles.js');
const hex = (h) => P.fromHex(h.startsWith('0x') ? h : '0x' + h);
const plain = (b) => P.toHex(b).slice(2);
const bodies = (refs, tiles) => refs.map((r) => ({
  ref: { level: r.level, index: BigInt(r.index), width: r.width },
  body: hex(tiles[r.path]),
}));
"""


@pytest.fixture(scope="module")
def page(browser: Any, pages_only: ServedApp) -> Iterator[Any]:
    # The verify page: its CSP lets it fetch from any loopback port (the tile server below).
    with phone_tab(browser, pages_only.url + "/verify") as tab:
        yield tab


def js(page: Any, body: str, arg: Any = None) -> Any:
    return page.evaluate(f"async (arg) => {{ {PRELUDE}\n{body} }}", arg)


class _Tiles(BaseHTTPRequestHandler):
    tiles: ClassVar[dict[str, bytes]] = {}
    seen: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        self.seen.append(self.path)
        body = self.tiles.get(self.path.removeprefix("/log/"))
        if body is None:
            self.send_response(404)
            self.send_header("Access-Control-Allow-Origin", "*")
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Access-Control-Allow-Origin", "*")
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Cache-Control", "public, max-age=31536000, immutable")
        self.send_header("ETag", '"' + hashlib.sha256(body).hexdigest() + '"')
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args: object) -> None:
        pass


@pytest.fixture(scope="module")
def tile_server() -> Iterator[tuple[str, type[_Tiles]]]:
    tiles = {path: bytes.fromhex(body) for path, body in VECTORS["tiles"].items()}
    handler: type[_Tiles] = type("Tiles", (_Tiles,), {"tiles": tiles, "seen": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/log", handler
    finally:
        server.shutdown()
        server.server_close()


def test_index_paths_are_c2sp(page: Any) -> None:
    got = js(
        page,
        "return Object.fromEntries(Object.keys(arg).map((n) => [n, T.encodeIndex(BigInt(n))]));",
        VECTORS["index_paths"],
    )
    assert got == VECTORS["index_paths"]


@pytest.mark.parametrize(
    "case", VECTORS["cases"], ids=lambda c: f"{c['leaf_index']}-of-{c['tree_size']}"
)
def test_tiles_and_proof_match_the_vectors(page: Any, case: dict[str, Any]) -> None:
    got = js(
        page,
        """
        const refs = T.tilesForInclusion(BigInt(arg.case.leaf_index), BigInt(arg.case.tree_size));
        const listed = refs.map((r) => ({ level: r.level, index: Number(r.index), width: r.width,
                                          path: T.tilePath(r) }));
        const tiles = bodies(listed, arg.tiles);
        const proof = T.inclusionProofFromTiles(arg.case.leaf_index, arg.case.tree_size, tiles);
        const root = await P.rootFromInclusion(hex(arg.case.leaf_hash), BigInt(arg.case.leaf_index),
                                               BigInt(arg.case.tree_size), proof);
        const leaf = listed.length ? T.leafHashFromTiles(arg.case.leaf_index, tiles) : null;
        return { refs: listed, proof: proof.map(plain), root: plain(root),
                 leaf: leaf && plain(leaf) };
        """,
        {"case": case, "tiles": VECTORS["tiles"]},
    )
    assert got["refs"] == case["tiles"]
    assert got["proof"] == case["proof"]
    assert got["root"] == case["root"]
    if case["tiles"]:
        assert got["leaf"] == case["leaf_hash"]


def test_tampered_or_short_tiles_prove_nothing(page: Any) -> None:
    case = next(c for c in VECTORS["cases"] if c["tree_size"] == 65_600 and c["leaf_index"] == 5)
    got = js(
        page,
        """
        const refs = arg.case.tiles;
        const out = {};
        for (let k = 0; k < refs.length; k++) {
          const tiles = bodies(refs, arg.tiles);
          const body = tiles[k].body.slice();
          body[body.length - 1] ^= 1;  // the last hash of the tile, one bit
          tiles[k] = { ref: tiles[k].ref, body };
          const proof = T.inclusionProofFromTiles(arg.case.leaf_index, arg.case.tree_size, tiles);
          const root = await P.rootFromInclusion(
            hex(arg.case.leaf_hash), BigInt(arg.case.leaf_index), BigInt(arg.case.tree_size),
            proof);
          out[refs[k].path] = plain(root) === arg.case.root;
        }
        const short = bodies(refs, arg.tiles);
        short[0] = { ref: short[0].ref, body: short[0].body.subarray(32) };
        try {
          T.inclusionProofFromTiles(arg.case.leaf_index, arg.case.tree_size, short);
          out.short = 'accepted';
        } catch (exc) {
          out.short = exc.name;
        }
        try {
          const some = bodies(refs.slice(1), arg.tiles);
          T.inclusionProofFromTiles(arg.case.leaf_index, arg.case.tree_size, some);
          out.missing = 'accepted';
        } catch (exc) {
          out.missing = exc.name;
        }
        return out;
        """,
        {"case": case, "tiles": VECTORS["tiles"]},
    )
    assert got.pop("short") == "TileError"
    assert got.pop("missing") == "TileError"
    # The last hash of each level-0 and level-1 tile is on the path or the right edge: a flip
    # shows. Level 2's one hash is the leaf's own ancestor, fetched only so that every verifier
    # asks the same: it cannot change the root.
    assert got == {ref["path"]: ref["level"] == 2 for ref in case["tiles"]}
    assert [ref["path"] for ref in case["tiles"] if ref["level"] == 2] == ["tile/2/000.p/1"]


def test_inclusion_from_a_log_over_http(page: Any, tile_server: tuple[str, type[_Tiles]]) -> None:
    url, handler = tile_server
    case = next(c for c in VECTORS["cases"] if c["tree_size"] == 70_000)
    handler.seen.clear()
    got = js(
        page,
        """
        const c = arg.case;
        const good = await T.inclusionFromLog(arg.url, hex(c.leaf_hash), BigInt(c.leaf_index),
                                             BigInt(c.tree_size), hex(c.root));
        const wrongRoot = await T.inclusionFromLog(arg.url, hex(c.leaf_hash), BigInt(c.leaf_index),
                                                  BigInt(c.tree_size), new Uint8Array(32));
        let missing;
        try {
          await T.inclusionFromLog(arg.url, hex(c.leaf_hash), 0n, 70001n, hex(c.root));
          missing = 'accepted';
        } catch (exc) {
          missing = exc.message;
        }
        const one = arg.one;  // a tree of one entry: no tile at all, the root is the leaf
        const single = await T.inclusionFromLog(arg.url, hex(one.leaf_hash), 0n, 1n, hex(one.root));
        return { ok: good.ok, bytes: good.bytes, tileLeaf: plain(good.tileLeaf),
                 wrongRoot: wrongRoot.ok, missing, single: [single.ok, single.bytes] };
        """,
        {"case": case, "url": url, "one": VECTORS["cases"][0]},
    )
    assert got["ok"] is True
    assert got["wrongRoot"] is False
    assert got["tileLeaf"] == case["leaf_hash"]
    assert got["bytes"] == 32 * sum(ref["width"] for ref in case["tiles"])
    assert "answered HTTP 404" in got["missing"]
    assert got["single"] == [True, 0]
    asked = {p.removeprefix("/log/") for p in handler.seen}
    assert {ref["path"] for ref in case["tiles"]} <= asked
