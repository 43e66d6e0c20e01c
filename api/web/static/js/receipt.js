// The receipt (PROTOCOL.md section 6): strict parsing like ledger/core/receipt.py, the canonical
// JSON it writes (PROTOCOL key order, indent 2), and merging the inclusion the service returns.

import { addressBytes, checksumAddress } from './eth.js';
import { ProtocolError, fromHex, kind, toHex } from './protocol.js';

export const FORMAT = 'tipledger-receipt/1';
export const MAX_PROOF_LENGTH = 64;
export const MAX_RECEIPT_SIZE = 1 << 20;
export const MAX_NESTING = 32;
const UINT64_LIMIT = 1n << 64n;
const UINT256_LIMIT = 1n << 256n;

export class ReceiptError extends Error {
  constructor(message) {
    super(message);
    this.name = 'ReceiptError';
  }
}

const RECEIPT_KEYS = [
  'format',
  'chain_id',
  'contract',
  'commitment',
  'salt',
  'content_digest',
  'author',
  'promise',
  'inclusion',
];
const PROMISE_KEYS = ['received_at', 'signer', 'signature'];
const INCLUSION_KEYS = [
  'leaf_index',
  'tree_size',
  'root_hash',
  'proof',
  'anchor_tx',
  'block_number',
  'block_timestamp',
];

// --- exact JSON --------------------------------------------------------------------------------

class FloatNumber {
  constructor(source) {
    this.source = source;
  }
}

/** JSON.parse with integers as BigInt (exact) and non-integers kept apart, where the browser
 *  gives the reviver the number's source text (Chromium does). */
function parseExact(text) {
  return JSON.parse(text, function revive(_key, value, context) {
    if (typeof value !== 'number') return value;
    const source = context && typeof context.source === 'string' ? context.source : null;
    if (source !== null) {
      return /^-?(0|[1-9][0-9]*)$/.test(source) ? BigInt(source) : new FloatNumber(source);
    }
    return Number.isSafeInteger(value) ? BigInt(value) : new FloatNumber(String(value));
  });
}

/** Deepest bracket nesting outside strings, and the first duplicate key in any object. */
function scan(text) {
  let depth = 0;
  let deepest = 0;
  const stack = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (c === '"') {
      let j = i + 1;
      while (j < text.length && text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      const token = text.slice(i, j + 1);
      i = j + 1;
      let k = i;
      while (k < text.length && ' \t\r\n'.includes(text[k])) k++;
      const top = stack[stack.length - 1];
      if (text[k] === ':' && top instanceof Set) {
        const key = JSON.parse(token);
        if (top.has(key)) return { deepest, duplicate: key };
        top.add(key);
      }
      continue;
    }
    if (c === '{' || c === '[') {
      depth += 1;
      deepest = Math.max(deepest, depth);
      if (deepest > MAX_NESTING) return { deepest, duplicate: null };
      stack.push(c === '{' ? new Set() : null);
    } else if (c === '}' || c === ']') {
      depth -= 1;
      stack.pop();
    }
    i += 1;
  }
  return { deepest, duplicate: null };
}

// --- parsing -----------------------------------------------------------------------------------

/**
 * Parse a receipt, refusing what ledger/core/receipt.py refuses, with one readable line.
 * Integers come back as BigInt, bytes as lowercase 0x hex, addresses EIP-55. Unknown top-level
 * fields are kept in `extra` (verifiers ignore them; a download keeps them).
 */
export function parseReceipt(text) {
  if (typeof text !== 'string') throw new ReceiptError('receipt must be JSON text');
  if (text.length > MAX_RECEIPT_SIZE) {
    throw new ReceiptError(`receipt is larger than ${MAX_RECEIPT_SIZE} characters`);
  }
  let data;
  let plain;
  try {
    data = parseExact(text);
    plain = JSON.parse(text);
  } catch (exc) {
    throw new ReceiptError(`receipt is not valid JSON: ${exc.message}`);
  }
  const { deepest, duplicate } = scan(text);
  if (deepest > MAX_NESTING) {
    throw new ReceiptError(`receipt nests JSON deeper than ${MAX_NESTING} levels`);
  }
  if (duplicate !== null) throw new ReceiptError(`receipt has a duplicate key '${duplicate}'`);
  const receipt = receiptFromObject(data);
  receipt.extra = {};
  for (const [key, value] of Object.entries(plain)) {
    if (!RECEIPT_KEYS.includes(key)) receipt.extra[key] = value;
  }
  return receipt;
}

/** Validate an already-decoded receipt object (numbers may be Number or BigInt). */
export function receiptFromObject(data) {
  if (!isObject(data)) throw new ReceiptError(`receipt must be a JSON object, got ${what(data)}`);
  const field = (name, check, value = data[name]) => {
    try {
      return check(value);
    } catch (exc) {
      throw new ReceiptError(`receipt field '${name}': ${exc.message}`);
    }
  };
  if (!('format' in data)) throw new ReceiptError("receipt field 'format': missing");
  field('format', (v) => {
    if (v !== FORMAT) throw new Error(`expected '${FORMAT}', got ${what(v)}`);
    return v;
  });
  const receipt = {
    format: FORMAT,
    chain_id: field('chain_id', (v) => integer(v, 1n, UINT256_LIMIT, 'greater than 0')),
    contract: field('contract', address),
    commitment: field('commitment', (v) => hex(v, 32)),
    salt: field('salt', (v) => hex(v, 32)),
    content_digest: field('content_digest', (v) => hex(v, 32)),
    author: field('author', address),
    promise: null,
    inclusion: null,
  };
  if (data.promise !== undefined && data.promise !== null) {
    const p = data.promise;
    if (!isObject(p)) throw new ReceiptError(`receipt field 'promise': expected an object or null, got ${what(p)}`);
    receipt.promise = {
      received_at: field('promise.received_at', uint64, p.received_at),
      signer: field('promise.signer', address, p.signer),
      signature: field('promise.signature', (v) => hex(v, 65), p.signature),
    };
  }
  if (data.inclusion !== undefined && data.inclusion !== null) {
    const inc = data.inclusion;
    if (!isObject(inc)) throw new ReceiptError(`receipt field 'inclusion': expected an object or null, got ${what(inc)}`);
    receipt.inclusion = {
      leaf_index: field('inclusion.leaf_index', uint64, inc.leaf_index),
      tree_size: field('inclusion.tree_size', (v) => integer(v, 1n, UINT64_LIMIT, 'at least 1'), inc.tree_size),
      root_hash: field('inclusion.root_hash', (v) => hex(v, 32), inc.root_hash),
      proof: field('inclusion.proof', proofList, inc.proof),
      anchor_tx: field('inclusion.anchor_tx', (v) => hex(v, 32), inc.anchor_tx),
      block_number: field('inclusion.block_number', uint64, inc.block_number),
      block_timestamp: field('inclusion.block_timestamp', uint64, inc.block_timestamp),
    };
  }
  return receipt;
}

function isObject(v) {
  return v !== null && typeof v === 'object' && !Array.isArray(v) && !(v instanceof FloatNumber);
}

function what(v) {
  if (v instanceof FloatNumber) return `the number ${v.source}`;
  return kind(v);
}

function integer(v, min, limit, bound) {
  if (v === undefined) throw new Error('missing');
  let n;
  if (typeof v === 'bigint') n = v;
  else if (typeof v === 'number' && Number.isSafeInteger(v)) n = BigInt(v);
  else throw new Error(`expected an integer, got ${what(v)}`);
  if (n < min) throw new Error(`must be ${bound}, got ${n}`);
  if (n >= limit) throw new Error(`must be less than 2^${limit === UINT64_LIMIT ? 64 : 256}, got ${n}`);
  return n;
}

function uint64(v) {
  return integer(v, 0n, UINT64_LIMIT, 'at least 0');
}

function hex(v, length) {
  if (v === undefined) throw new Error('missing');
  if (typeof v !== 'string') throw new Error(`expected 0x + ${2 * length} hex digits, got ${what(v)}`);
  return toHex(fromHex(v, length));
}

function address(v) {
  if (v === undefined) throw new Error('missing');
  if (typeof v !== 'string') throw new Error(`expected a 0x address of 40 hex digits, got ${what(v)}`);
  return checksumAddress(addressBytes(v));
}

function proofList(v) {
  if (v === undefined) throw new Error('missing');
  if (!Array.isArray(v)) throw new Error(`expected a list, got ${what(v)}`);
  if (v.length > MAX_PROOF_LENGTH) {
    throw new Error(`at most ${MAX_PROOF_LENGTH} items, got ${v.length}`);
  }
  return v.map((h, i) => {
    try {
      return hex(h, 32);
    } catch (exc) {
      throw new Error(`[${i}] ${exc.message}`);
    }
  });
}

// --- writing -----------------------------------------------------------------------------------

function ordered(obj, keys) {
  const out = {};
  for (const k of keys) out[k] = obj[k];
  return out;
}

/** The receipt as a plain object in PROTOCOL key order (no BigInt), plus its extra fields. */
export function receiptToObject(receipt, { extras = true } = {}) {
  const out = ordered(receipt, RECEIPT_KEYS);
  out.promise = receipt.promise ? ordered(receipt.promise, PROMISE_KEYS) : null;
  out.inclusion = receipt.inclusion ? ordered(receipt.inclusion, INCLUSION_KEYS) : null;
  if (extras && receipt.extra) {
    for (const [k, v] of Object.entries(receipt.extra)) if (!(k in out)) out[k] = v;
  }
  return out;
}

/** Deterministic JSON: PROTOCOL key order, indent 2, no trailing newline (as `to_json`). */
export function receiptToJSON(receipt, options) {
  return stringify(receiptToObject(receipt, options), '');
}

/** The smallest JSON of the receipt without its inclusion (what the QR code carries), with the
 *  follow-up secret when `followUp` is given (as `"follow_up": {"secret": …}`). */
export function compactReceiptJSON(receipt, { followUp = null } = {}) {
  const obj = receiptToObject({ ...receipt, inclusion: null }, { extras: false });
  if (followUp) obj.follow_up = { secret: followUp };
  return stringify(obj, null);
}

function stringify(value, indent) {
  const nl = indent === null ? '' : '\n';
  const step = indent === null ? '' : '  ';
  const sep = indent === null ? ':' : ': ';
  if (typeof value === 'bigint') return value.toString();
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  const inner = indent === null ? null : indent + step;
  const pad = inner ?? '';
  if (Array.isArray(value)) {
    if (value.length === 0) return '[]';
    const items = value.map((v) => pad + stringify(v, inner));
    return `[${nl}${items.join(`,${nl}`)}${nl}${indent ?? ''}]`;
  }
  const entries = Object.entries(value);
  if (entries.length === 0) return '{}';
  const items = entries.map(([k, v]) => `${pad}${JSON.stringify(k)}${sep}${stringify(v, inner)}`);
  return `{${nl}${items.join(`,${nl}`)}${nl}${indent ?? ''}}`;
}

/**
 * The receipt with the inclusion the service returned for its commitment (GET
 * /v1/tips/{commitment}/receipt), after checking that the answer is about this receipt.
 */
export function withInclusion(receipt, answer) {
  if (!answer || typeof answer !== 'object') throw new ProtocolError('the service answered no receipt');
  if (String(answer.commitment).toLowerCase() !== receipt.commitment) {
    throw new ProtocolError('the service answered about another commitment');
  }
  if (answer.inclusion === null || answer.inclusion === undefined) return receipt;
  const merged = receiptFromObject({
    ...receiptToObject(receipt, { extras: false }),
    inclusion: answer.inclusion,
  });
  merged.extra = receipt.extra || {};
  return merged;
}

export function bytesOf(hexText) {
  return fromHex(hexText);
}
