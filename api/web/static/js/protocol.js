// TipLedger protocol v1 in the browser (PROTOCOL.md sections 1-3), byte for byte the same as
// ledger/core/commitment.py and ledger/core/merkle.py. SHA-256 is WebCrypto's. Indices and
// sizes are BigInt (uint64), so nothing is lost above 2^53.
//
// Frozen like its Python twin: a change here breaks receipts. tests/e2e/test_js_protocol.py
// holds the two equal.

export const COMMITMENT_TAG = new TextEncoder().encode('tipledger/v1/commitment');
export const SALT_SIZE = 32;
export const DIGEST_SIZE = 32;
export const ADDRESS_SIZE = 20;
export const ZERO_AUTHOR = new Uint8Array(ADDRESS_SIZE);
export const TIP_FORMAT = 'tipledger-tip/1';
export const MAX_ATTACHMENT_NAME = 255;

export class ProtocolError extends Error {
  constructor(message) {
    super(message);
    this.name = 'ProtocolError';
  }
}

// --- bytes and hex -----------------------------------------------------------------------------

const HEX = /^0x[0-9a-fA-F]*$/;

/** `0x` + lowercase hex. */
export function toHex(bytes) {
  let out = '0x';
  for (const b of bytes) out += b.toString(16).padStart(2, '0');
  return out;
}

/** Bytes from `0x` hex (either case), exactly `length` bytes if given; ProtocolError otherwise. */
export function fromHex(text, length) {
  const want = length === undefined ? '0x + hex digits' : `0x + ${2 * length} hex digits`;
  if (typeof text !== 'string') throw new ProtocolError(`expected ${want}, got ${kind(text)}`);
  if (!HEX.test(text)) throw new ProtocolError(`expected ${want}, got ${preview(text)}`);
  const digits = text.length - 2;
  if (length !== undefined && digits !== 2 * length) {
    throw new ProtocolError(`expected ${want}, got ${digits} hex digits`);
  }
  if (digits % 2) {
    throw new ProtocolError(`expected ${want}, got an odd number of hex digits (${digits})`);
  }
  const out = new Uint8Array(digits / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(text.substr(2 + 2 * i, 2), 16);
  return out;
}

export function concatBytes(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export function equalBytes(a, b) {
  if (!a || !b || a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}

export function utf8(text) {
  return new TextEncoder().encode(text);
}

export function toBase64(bytes) {
  let bin = '';
  for (let i = 0; i < bytes.length; i += 0x8000) {
    bin += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  }
  return btoa(bin);
}

export function fromBase64(text) {
  const bin = atob(text);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/** A uint64 as 32 big-endian bytes (ABI word). */
export function uint256Bytes(value) {
  let v = BigInt(value);
  if (v < 0n || v >= 1n << 256n) throw new ProtocolError(`integer out of range: ${value}`);
  const out = new Uint8Array(32);
  for (let i = 31; i >= 0; i--) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
}

export function bytesToBigInt(bytes) {
  let v = 0n;
  for (const b of bytes) v = (v << 8n) | BigInt(b);
  return v;
}

// --- hashing -----------------------------------------------------------------------------------

/** SHA-256 with WebCrypto. */
export async function sha256(bytes) {
  return new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
}

/** `H(document)` over the exact bytes submitted (PROTOCOL 1). */
export function contentDigest(document) {
  if (!(document instanceof Uint8Array)) throw new ProtocolError('a tip document is bytes');
  return sha256(document);
}

/** `H("tipledger/v1/commitment" || salt || content_digest || author)` (PROTOCOL 2). */
export function commitment(salt, digest, author) {
  checkBytes('salt', salt, SALT_SIZE);
  checkBytes('content digest', digest, DIGEST_SIZE);
  checkBytes('author', author, ADDRESS_SIZE);
  return sha256(concatBytes(COMMITMENT_TAG, salt, digest, author));
}

/** 32 fresh bytes from the browser's CSPRNG; never reuse one. */
export function newSalt() {
  return crypto.getRandomValues(new Uint8Array(SALT_SIZE));
}

function checkBytes(name, value, size) {
  if (!(value instanceof Uint8Array)) {
    throw new ProtocolError(`commitment ${name} must be ${size} bytes, got ${kind(value)}`);
  }
  if (value.length !== size) {
    throw new ProtocolError(`commitment ${name} must be ${size} bytes, got ${value.length}`);
  }
}

// --- RFC 9162 Merkle log (PROTOCOL 3) ----------------------------------------------------------

export const HASH_SIZE = 32;

/** `H(0x00 || entry)`. */
export function leafHash(entry) {
  return sha256(concatBytes(Uint8Array.of(0), entry));
}

/** `H(0x01 || left || right)`. */
export function nodeHash(left, right) {
  return sha256(concatBytes(Uint8Array.of(1), left, right));
}

/** The largest power of two strictly smaller than n (n >= 2). */
export function splitPoint(n) {
  n = BigInt(n);
  let k = 1n;
  while (k << 1n < n) k <<= 1n;
  return k;
}

/** `MTH` of raw entries (for tests and small lists). */
export async function merkleRoot(entries) {
  if (entries.length === 0) return sha256(new Uint8Array(0));
  let level = [];
  for (const e of entries) level.push(await leafHash(e));
  while (level.length > 1) {
    const next = [];
    for (let i = 0; i + 1 < level.length; i += 2) next.push(await nodeHash(level[i], level[i + 1]));
    if (level.length % 2) next.push(level[level.length - 1]);
    level = next;
  }
  return level[0];
}

function wellFormed(hashes) {
  return hashes.every((h) => h instanceof Uint8Array && h.length === HASH_SIZE);
}

/** RFC 9162 2.1.3.2 steps 1-4: the root an inclusion proof implies, or null if malformed. */
export async function rootFromInclusion(leaf, index, size, proof) {
  index = BigInt(index);
  size = BigInt(size);
  if (!(index >= 0n && index < size) || !wellFormed([leaf, ...proof])) return null;
  let fn = index;
  let sn = size - 1n;
  let r = leaf;
  for (const p of proof) {
    if (sn === 0n) return null;
    if (fn & 1n || fn === sn) {
      r = await nodeHash(p, r);
      if (!(fn & 1n)) {
        while (fn && !(fn & 1n)) {
          fn >>= 1n;
          sn >>= 1n;
        }
      }
    } else {
      r = await nodeHash(r, p);
    }
    fn >>= 1n;
    sn >>= 1n;
  }
  return sn === 0n ? r : null;
}

/** RFC 9162 2.1.3.2: does `proof` put leaf hash `leaf` at `index` under `rootHash`. */
export async function verifyInclusion(leaf, index, size, proof, rootHash) {
  const computed = await rootFromInclusion(leaf, index, size, proof);
  return computed !== null && equalBytes(computed, rootHash);
}

/** RFC 9162 2.1.4.2: is the tree of size `second` an append-only extension of `first`. */
export async function verifyConsistency(first, second, firstRoot, secondRoot, proof) {
  first = BigInt(first);
  second = BigInt(second);
  if (!(first > 0n && first <= second) || !wellFormed([firstRoot, secondRoot, ...proof])) {
    return false;
  }
  if (first === second) return proof.length === 0 && equalBytes(firstRoot, secondRoot);
  if (proof.length === 0) return false;
  const path = [...proof];
  if ((first & (first - 1n)) === 0n) path.unshift(firstRoot);
  let fn = first - 1n;
  let sn = second - 1n;
  while (fn & 1n) {
    fn >>= 1n;
    sn >>= 1n;
  }
  let fr = path[0];
  let sr = path[0];
  for (const c of path.slice(1)) {
    if (sn === 0n) return false;
    if (fn & 1n || fn === sn) {
      fr = await nodeHash(c, fr);
      sr = await nodeHash(c, sr);
      if (!(fn & 1n)) {
        while (fn && !(fn & 1n)) {
          fn >>= 1n;
          sn >>= 1n;
        }
      }
    } else {
      sr = await nodeHash(sr, c);
    }
    fn >>= 1n;
    sn >>= 1n;
  }
  return equalBytes(fr, firstRoot) && equalBytes(sr, secondRoot) && sn === 0n;
}

/** The length of RFC 9162 `PATH(index, D[size])`, without hashing anything. */
export function pathLength(index, size) {
  let length = 0;
  let lo = 0n;
  let hi = BigInt(size);
  let m = BigInt(index);
  while (hi - lo > 1n) {
    const k = splitPoint(hi - lo);
    if (m < k) {
      hi = lo + k;
    } else {
      lo += k;
      m -= k;
    }
    length += 1;
  }
  return length;
}

// --- the web tip document (PROTOCOL 1) ---------------------------------------------------------
//
// The same bytes the service builds from a multipart form (api/parsing.py tip_from_parts):
// UTF-8 JSON, keys sorted, no whitespace, strings escaped as orjson escapes them (which is what
// JSON.stringify does for well-formed text):
//
//   {"attachments":[{"name":…,"sha256":"0x…","size":…,"type":…},…],"format":"tipledger-tip/1","text":…}

/** Text with every lone surrogate replaced by U+FFFD, as UTF-8 encoding (and the server) does. */
export function wellFormedText(text) {
  if (typeof text.toWellFormed === 'function') return text.toWellFormed();
  return text.replace(
    /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g,
    '\uFFFD',
  );
}

/**
 * An attachment's name as the service will read it back from a multipart part: characters a
 * browser escapes or a multipart parser rewrites in a file name (quotes, backslashes, slashes,
 * control characters) become "_", and it is cut to 255 characters.
 */
export function safeAttachmentName(name) {
  // eslint-disable-next-line no-control-regex
  let safe = wellFormedText(String(name)).replace(/["\\/\u0000-\u001f\u007f]/g, '_').trim();
  if (!safe) safe = 'attachment';
  const chars = Array.from(safe);
  return chars.length > MAX_ATTACHMENT_NAME ? chars.slice(0, MAX_ATTACHMENT_NAME).join('') : safe;
}

/** The tip document's bytes for `text` and attachments `[{name, sha256 (0x hex), size, type}]`. */
export function buildTipDocument(text, attachments = []) {
  const items = attachments.map((a) => {
    if (!Number.isSafeInteger(a.size) || a.size < 0) {
      throw new ProtocolError(`attachment size must be a non-negative integer, got ${a.size}`);
    }
    fromHex(a.sha256, 32);
    // Keys in sorted order: name, sha256, size, type.
    return {
      name: wellFormedText(String(a.name)),
      sha256: a.sha256.toLowerCase(),
      size: a.size,
      type: wellFormedText(String(a.type)),
    };
  });
  // Keys in sorted order: attachments, format, text.
  const doc = { attachments: items, format: TIP_FORMAT, text: wellFormedText(String(text)) };
  return utf8(JSON.stringify(doc));
}

/** The tip's text and attachments if `bytes` is a web tip document, else null. */
export function parseTipDocument(bytes) {
  try {
    const doc = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
    if (doc && doc.format === TIP_FORMAT && typeof doc.text === 'string') {
      return { text: doc.text, attachments: Array.isArray(doc.attachments) ? doc.attachments : [] };
    }
  } catch {
    // not UTF-8 JSON: a plain document
  }
  return null;
}

// --- helpers -----------------------------------------------------------------------------------

export function kind(value) {
  if (value === null) return 'null';
  if (value === undefined) return 'nothing';
  if (typeof value === 'boolean') return 'a boolean';
  if (typeof value === 'number' || typeof value === 'bigint') return `the number ${value}`;
  if (typeof value === 'string') return `the string ${preview(value)}`;
  if (Array.isArray(value)) return 'a list';
  if (value instanceof Uint8Array) return `${value.length} bytes`;
  if (typeof value === 'object') return 'an object';
  return typeof value;
}

function preview(text) {
  return JSON.stringify(text.length <= 20 ? text : text.slice(0, 17) + '...');
}
