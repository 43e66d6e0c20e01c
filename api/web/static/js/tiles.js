// Log tiles (C2SP tlog-tiles over our RFC 9162 tree, PROTOCOL.md section 18), as
// ledger/core/tiles.py: the tile paths, which tiles a verifier needs for leaf i in a tree of
// size N, and the inclusion proof built from them. Which tiles are fetched depends on the leaf
// only through i / 256 and otherwise on N alone: everyone verifying against the same
// checkpoint asks the same, apart from the 256-entry group holding their entry.

import { sha256 } from '../vendor/noble-hashes/sha2.js';
import { HASH_SIZE, ProtocolError, concatBytes, equalBytes } from './protocol.js';

export const TILE_HEIGHT = 8;
export const TILE_WIDTH = 256;
export const MAX_LEVEL = 7; // 8 levels of 8 heights cover every tree of up to 2**64 leaves

const WIDTH = BigInt(TILE_WIDTH);

export class TileError extends ProtocolError {
  constructor(message) {
    super(message);
    this.name = 'TileError';
  }
}

/** A tile that could not be fetched (network, HTTP status): the verdict stays incomplete. */
export class TilesUnavailableError extends Error {
  constructor(message) {
    super(message);
    this.name = 'TilesUnavailableError';
  }
}

/** C2SP index: groups of 3 digits, all but the last prefixed with "x" (1234067 → x001/x234/067). */
export function encodeIndex(n) {
  n = BigInt(n);
  if (n < 0n) throw new TileError(`tile index ${n} is negative`);
  let digits = n.toString();
  digits = '0'.repeat((3 - (digits.length % 3)) % 3) + digits;
  const groups = digits.match(/\d{3}/g);
  return groups.map((g, k) => (k < groups.length - 1 ? `x${g}` : g)).join('/');
}

/** The path of a tile under the log URL: tile/<L>/<N>[.p/<W>]. */
export function tilePath(ref) {
  const suffix = ref.width === TILE_WIDTH ? '' : `.p/${ref.width}`;
  return `tile/${ref.level}/${encodeIndex(ref.index)}${suffix}`;
}

/** Tile `level`/`index` as it is in a tree of `treeSize` leaves, or null if it holds no hash yet. */
export function tileRef(level, index, treeSize) {
  const nodes = BigInt(treeSize) >> BigInt(TILE_HEIGHT * level);
  const first = BigInt(index) * WIDTH;
  if (nodes <= first) return null;
  const width = nodes - first < WIDTH ? Number(nodes - first) : TILE_WIDTH;
  return { level, index: BigInt(index), width };
}

/**
 * The tiles to fetch to prove leaf `leafIndex` in the tree of `treeSize`: for each level k with
 * 256**k < treeSize, the tile on the leaf's path (index leafIndex / 256**(k+1)) and the rightmost
 * tile of that level (the right edge, which depends on the size alone).
 */
export function tilesForInclusion(leafIndex, treeSize) {
  const i = BigInt(leafIndex);
  const n = BigInt(treeSize);
  if (!(i >= 0n && i < n)) throw new TileError(`leaf index ${i} is outside a tree of size ${n}`);
  const refs = [];
  for (let level = 0; level <= MAX_LEVEL && 1n << BigInt(TILE_HEIGHT * level) < n; level++) {
    const shift = BigInt(TILE_HEIGHT * (level + 1));
    for (const index of [i >> shift, n >> shift]) {
      const ref = tileRef(level, index, n);
      if (ref && !refs.some((r) => r.level === level && r.index === ref.index)) refs.push(ref);
    }
  }
  return refs;
}

function nodeHash(left, right) {
  return sha256(concatBytes(Uint8Array.of(1), left, right));
}

/** The root of 2**k adjacent hashes (a complete subtree), folded pairwise. */
function foldComplete(hashes) {
  let level = hashes;
  while (level.length > 1) {
    const next = [];
    for (let k = 0; k < level.length; k += 2) next.push(nodeHash(level[k], level[k + 1]));
    level = next;
  }
  return level[0];
}

/** Tree nodes read from fetched tiles: `tiles` is [{ref, body}] (bodies of ref.width hashes). */
class TileNodes {
  constructor(tiles) {
    this.hashes = new Map();
    for (const { ref, body } of tiles) {
      if (!(body instanceof Uint8Array) || body.length !== ref.width * HASH_SIZE) {
        const got = body?.length ?? 0;
        throw new TileError(`tile ${tilePath(ref)} should be ${ref.width * HASH_SIZE} bytes, got ${got}`);
      }
      const key = `${ref.level}/${ref.index}`;
      const have = this.hashes.get(key);
      if (!have || have.length < ref.width) {
        this.hashes.set(
          key,
          Array.from({ length: ref.width }, (_, k) => body.subarray(HASH_SIZE * k, HASH_SIZE * (k + 1))),
        );
      }
    }
    this.memo = new Map();
  }

  /** The hash of the complete subtree at `height` (Number) with index `index` (BigInt). */
  node(height, index) {
    const key = `${height}/${index}`;
    const known = this.memo.get(key);
    if (known) return known;
    const level = Math.floor(height / TILE_HEIGHT);
    const rise = height % TILE_HEIGHT;
    const first = index << BigInt(rise); // its first descendant at the tile level's height
    const tile = first / WIDTH;
    const offset = Number(first % WIDTH);
    const count = 1 << rise;
    const hashes = this.hashes.get(`${level}/${tile}`) || [];
    if (hashes.length < offset + count) {
      throw new TileError(
        `the tiles fetched do not hold node ${index} at height ${height} ` +
          `(tile ${level}/${tile}, hashes ${offset}..${offset + count - 1})`,
      );
    }
    const value = foldComplete(hashes.slice(offset, offset + count));
    this.memo.set(key, value);
    return value;
  }

  /** MTH(D[start:end]) for an RFC 9162 recursion range: its complete subtrees, folded from the right. */
  subtreeHash(start, end) {
    const parts = [];
    let pos = start;
    while (pos < end) {
      let height = (end - pos).toString(2).length - 1;
      while (pos & ((1n << BigInt(height)) - 1n)) height -= 1;
      parts.push(this.node(height, pos >> BigInt(height)));
      pos += 1n << BigInt(height);
    }
    let h = parts[parts.length - 1];
    for (let k = parts.length - 2; k >= 0; k--) h = nodeHash(parts[k], h);
    return h;
  }
}

function largestPowerBelow(n) {
  let k = 1n;
  while (k << 1n < n) k <<= 1n;
  return k;
}

/** RFC 9162 PATH(leafIndex, D[treeSize]) from tiles ([{ref, body}], see tilesForInclusion). */
export function inclusionProofFromTiles(leafIndex, treeSize, tiles) {
  const nodes = new TileNodes(tiles);
  const path = [];
  let m = BigInt(leafIndex);
  let lo = 0n;
  let hi = BigInt(treeSize);
  if (!(m >= 0n && m < hi)) throw new TileError(`leaf index ${m} is outside a tree of size ${hi}`);
  while (hi - lo > 1n) {
    const k = largestPowerBelow(hi - lo);
    if (m < k) {
      path.push(nodes.subtreeHash(lo + k, hi));
      hi = lo + k;
    } else {
      path.push(nodes.subtreeHash(lo, lo + k));
      lo += k;
      m -= k;
    }
  }
  return path.reverse(); // the leaf's sibling first, as RFC 9162 lists it
}

/** The leaf hash the tiles hold at `leafIndex`. */
export function leafHashFromTiles(leafIndex, tiles) {
  return new TileNodes(tiles).node(0, BigInt(leafIndex));
}

/**
 * Fetch `refs` from the log at `logUrl` (the service's /log or a mirror), all at once, as
 * anyone would: no cookies, no referrer; the tiles are immutable, so a cache may answer.
 * Returns {tiles: [{ref, body}], bytes}.
 */
export async function fetchTiles(logUrl, refs, { timeoutMs = 15000 } = {}) {
  const base = String(logUrl).replace(/\/+$/, '');
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  try {
    const tiles = await Promise.all(
      refs.map(async (ref) => {
        const url = `${base}/${tilePath(ref)}`;
        let response;
        try {
          response = await fetch(url, {
            credentials: 'omit',
            referrerPolicy: 'no-referrer',
            signal: controller.signal,
          });
        } catch (exc) {
          throw new TilesUnavailableError(`cannot fetch ${url}: ${exc.message || exc}`);
        }
        if (!response.ok) throw new TilesUnavailableError(`${url} answered HTTP ${response.status}`);
        return { ref, body: new Uint8Array(await response.arrayBuffer()) };
      }),
    );
    return { tiles, bytes: tiles.reduce((sum, t) => sum + t.body.length, 0) };
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Is leaf hash `leaf` at `leafIndex` in the tree of `treeSize` with root `rootHash`, by the
 * tiles of the log at `logUrl`? {ok, computed, tileLeaf, bytes}; throws TilesUnavailableError
 * when a tile cannot be fetched, TileError when one is malformed.
 */
export async function inclusionFromLog(logUrl, leaf, leafIndex, treeSize, rootHash) {
  const { tiles, bytes } = await fetchTiles(logUrl, tilesForInclusion(leafIndex, treeSize));
  const proof = inclusionProofFromTiles(leafIndex, treeSize, tiles);
  let computed = leaf;
  let fn = BigInt(leafIndex);
  let sn = BigInt(treeSize) - 1n;
  for (const p of proof) {
    // RFC 9162 2.1.3.2 over a proof we built ourselves (its length is right by construction)
    if (fn & 1n || fn === sn) {
      computed = nodeHash(p, computed);
      if (!(fn & 1n)) {
        while (fn && !(fn & 1n)) {
          fn >>= 1n;
          sn >>= 1n;
        }
      }
    } else {
      computed = nodeHash(computed, p);
    }
    fn >>= 1n;
    sn >>= 1n;
  }
  const tileLeaf = tiles.length ? leafHashFromTiles(leafIndex, tiles) : null; // size 1: no tile
  return { ok: equalBytes(computed, rootHash), computed, tileLeaf, bytes };
}
