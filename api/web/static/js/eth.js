// Ethereum pieces the pages need: keccak-256, EIP-55 addresses, the one-time author key, the
// EIP-712 Promise digest and strict signature recovery (as ledger/core/eip712.py), and reading
// the TipLedger contract over JSON-RPC. Uses the vendored noble libraries, served by us.

import { keccak_256 } from '../vendor/noble-hashes/sha3.js';
import { secp256k1 } from '../vendor/noble-curves/secp256k1.js';
import {
  ADDRESS_SIZE,
  ProtocolError,
  bytesToBigInt,
  concatBytes,
  fromHex,
  kind,
  toHex,
  uint256Bytes,
  utf8,
} from './protocol.js';

export function keccak256(bytes) {
  return keccak_256(bytes);
}

// --- addresses ---------------------------------------------------------------------------------

/** The EIP-55 checksummed form of 20 address bytes. */
export function checksumAddress(raw) {
  const hex = toHex(raw).slice(2);
  const hash = keccak_256(utf8(hex));
  let out = '0x';
  for (let i = 0; i < hex.length; i++) {
    const nibble = (hash[i >> 1] >> (i % 2 ? 0 : 4)) & 0xf;
    out += nibble >= 8 ? hex[i].toUpperCase() : hex[i];
  }
  return out;
}

/**
 * The 20 bytes of an address written in hex: all lower case, all upper case, or EIP-55. A
 * mixed-case address with a wrong checksum is refused (as ledger/core/encoding.py does).
 */
export function addressBytes(text) {
  if (typeof text !== 'string') throw new ProtocolError(`expected an address, got ${kind(text)}`);
  let raw;
  try {
    raw = fromHex(text, ADDRESS_SIZE);
  } catch (exc) {
    throw new ProtocolError(`invalid address: ${exc.message}`);
  }
  const digits = text.slice(2);
  const mixed = digits !== digits.toLowerCase() && digits !== digits.toUpperCase();
  if (mixed && checksumAddress(raw) !== text) {
    throw new ProtocolError(`address ${text} has an invalid EIP-55 checksum`);
  }
  return raw;
}

export function addressFromPublicKey(uncompressed) {
  return keccak_256(uncompressed.subarray(1)).subarray(12);
}

/** A fresh one-time author key: {privateKey (0x hex), address (EIP-55), addressBytes}. */
export function newAuthorKey() {
  const secret = secp256k1.utils.randomSecretKey();
  const raw = addressFromPublicKey(secp256k1.getPublicKey(secret, false));
  return { privateKey: toHex(secret), address: checksumAddress(raw), addressBytes: raw };
}

/** The address of a 0x private key (for tests and for reloading a saved key). */
export function addressOfPrivateKey(privateKeyHex) {
  const raw = addressFromPublicKey(secp256k1.getPublicKey(fromHex(privateKeyHex, 32), false));
  return checksumAddress(raw);
}

// --- EIP-712 (PROTOCOL 5) ----------------------------------------------------------------------

const DOMAIN_TYPE =
  'EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)';
const PROMISE_TYPE = 'Promise(bytes32 commitment,uint64 receivedAt)';
const SECP256K1_N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
const UINT64_LIMIT = 1n << 64n;

export function domainSeparator(chainId, contract) {
  return keccak_256(
    concatBytes(
      keccak_256(utf8(DOMAIN_TYPE)),
      keccak_256(utf8('TipLedger')),
      keccak_256(utf8('1')),
      uint256Bytes(chainId),
      concatBytes(new Uint8Array(12), addressBytes(contract)),
    ),
  );
}

/** The EIP-712 digest of `Promise(commitment, receivedAt)` for this deployment. */
export function promiseDigest(chainId, contract, commitmentBytes, receivedAt) {
  const at = BigInt(receivedAt);
  if (at < 0n || at >= UINT64_LIMIT) throw new ProtocolError('receivedAt must be a uint64');
  if (commitmentBytes.length !== 32) throw new ProtocolError('commitment must be 32 bytes');
  const struct = keccak_256(
    concatBytes(keccak_256(utf8(PROMISE_TYPE)), commitmentBytes, uint256Bytes(at)),
  );
  return keccak_256(concatBytes(Uint8Array.of(0x19, 0x01), domainSeparator(chainId, contract), struct));
}

/**
 * The EIP-55 address that made a 65-byte `r || s || v` signature over a 32-byte digest, as
 * strict as OpenZeppelin's ECDSA.recover: v 27 or 28, 0 < r < n, 0 < s <= n/2.
 */
export function recoverDigestSigner(digest, signature) {
  if (!(signature instanceof Uint8Array) || signature.length !== 65) {
    throw new ProtocolError('a signature is 65 bytes (r || s || v)');
  }
  const r = bytesToBigInt(signature.subarray(0, 32));
  const s = bytesToBigInt(signature.subarray(32, 64));
  const v = signature[64];
  if (v !== 27 && v !== 28) throw new ProtocolError(`signature v must be 27 or 28, got ${v}`);
  if (!(r > 0n && r < SECP256K1_N)) throw new ProtocolError('signature r is out of range');
  if (!(s > 0n && s <= SECP256K1_N / 2n)) {
    throw new ProtocolError('signature s is zero or above n/2 (not canonical low-s)');
  }
  let point;
  try {
    point = secp256k1.Signature.fromBytes(signature.subarray(0, 64), 'compact')
      .addRecoveryBit(v - 27)
      .recoverPublicKey(digest);
  } catch {
    throw new ProtocolError('signature does not recover to any public key');
  }
  return checksumAddress(addressFromPublicKey(point.toBytes(false)));
}

/** Sign a digest (tests only: the pages never sign with a service key). */
export function signDigest(digest, privateKeyHex) {
  const sig = secp256k1.sign(digest, fromHex(privateKeyHex, 32), {
    prehash: false,
    format: 'recovered',
  });
  return concatBytes(sig.subarray(1), Uint8Array.of(sig[0] + 27));
}

// --- the contract over JSON-RPC ----------------------------------------------------------------

const SELECTOR = {
  hasRole: keccak_256(utf8('hasRole(bytes32,address)')).subarray(0, 4),
  maxMergeDelay: keccak_256(utf8('maxMergeDelay()')).subarray(0, 4),
  members: keccak_256(utf8('members(bytes32)')).subarray(0, 4),
  agencyInfo: keccak_256(utf8('agencyInfo(bytes32)')).subarray(0, 4),
  latest: keccak_256(utf8('latest()')).subarray(0, 4),
};
export const ANCHORER_ROLE = keccak_256(utf8('ANCHORER_ROLE'));

export class RpcError extends Error {
  constructor(message) {
    super(message);
    this.name = 'RpcError';
  }
}

let rpcId = 0;

/** One JSON-RPC call straight to the chain's endpoint (no cookies, no referrer). */
export async function rpc(url, method, params = [], timeoutMs = 15000) {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  let response;
  try {
    response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: ++rpcId, method, params }),
      credentials: 'omit',
      referrerPolicy: 'no-referrer',
      cache: 'no-store',
      signal: controller.signal,
    });
  } catch (exc) {
    throw new RpcError(`cannot reach ${url}: ${exc.message || exc}`);
  } finally {
    clearTimeout(timer);
  }
  if (!response.ok) throw new RpcError(`${url} answered HTTP ${response.status}`);
  let reply;
  try {
    reply = await response.json();
  } catch {
    throw new RpcError(`${url} did not answer JSON`);
  }
  if (reply.error) {
    const error = new RpcError(`${method}: ${reply.error.message || JSON.stringify(reply.error)}`);
    error.refused = true; // the node answered and refused (e.g. too many logs), not unreachable
    throw error;
  }
  return reply.result;
}

function quantity(value) {
  return '0x' + BigInt(value).toString(16);
}

function words(hex, count) {
  const data = fromHex(hex);
  if (data.length < 32 * count) throw new RpcError(`the contract answered ${data.length} bytes`);
  return Array.from({ length: count }, (_, i) => data.subarray(32 * i, 32 * i + 32));
}

async function ethCall(url, contract, data, block = 'latest') {
  const to = toHex(addressBytes(contract));
  return rpc(url, 'eth_call', [{ to, data: toHex(data) }, block]);
}

export async function chainId(url) {
  return BigInt(await rpc(url, 'eth_chainId'));
}

/** `latest()`: the newest checkpoint, {treeSize, rootHash (bytes), timestamp, blockNumber}. */
export async function readLatest(url, contract) {
  const [size, root, timestamp, blockNumber] = words(await ethCall(url, contract, SELECTOR.latest), 4);
  return {
    treeSize: bytesToBigInt(size),
    rootHash: root,
    timestamp: bytesToBigInt(timestamp),
    blockNumber: bytesToBigInt(blockNumber),
  };
}

/** `eth_blockNumber`: the node's newest block (BigInt). */
export async function blockNumber(url) {
  return BigInt(await rpc(url, 'eth_blockNumber'));
}

/** `hasRole(ANCHORER_ROLE, account)`, at `block` (a number) when the node still has it. */
export async function isAnchorer(url, contract, account, block) {
  const data = concatBytes(
    SELECTOR.hasRole,
    ANCHORER_ROLE,
    concatBytes(new Uint8Array(12), addressBytes(account)),
  );
  let result;
  try {
    result = await ethCall(url, contract, data, block === undefined ? 'latest' : quantity(block));
  } catch (exc) {
    if (block === undefined) throw exc;
    result = await ethCall(url, contract, data, 'latest'); // a node without that block's state
  }
  return bytesToBigInt(words(result, 1)[0]) !== 0n;
}

/** `hasRole(role, account)` now (role: 32 bytes, e.g. keccak256("CUSTODIAN_ROLE")). */
export async function hasRole(url, contract, role, account) {
  const data = concatBytes(SELECTOR.hasRole, role, concatBytes(new Uint8Array(12), addressBytes(account)));
  return bytesToBigInt(words(await ethCall(url, contract, data), 1)[0]) !== 0n;
}

/** An agency id (PROTOCOL.md 16.1) as its bytes32: the slug's ASCII, zero-padded. */
export function agencyIdBytes(slug) {
  const raw = utf8(String(slug));
  if (!/^[a-z][a-z0-9-]{1,30}$/.test(String(slug))) throw new ProtocolError(`not an agency id: ${slug}`);
  const out = new Uint8Array(32);
  out.set(raw);
  return out;
}

/**
 * An agency's standing and current members as the contract lists them: {exists, active,
 * members: [{account (EIP-55), encryptionKey (32 bytes)}]}. The keys a tip is sealed to come
 * from here, never from the service alone (PROTOCOL.md 17.1).
 */
export async function readAgency(url, contract, slug) {
  const id = agencyIdBytes(slug);
  const [exists, active] = decodeAbi(
    ['bool', 'bool', 'uint256'],
    fromHex(await ethCall(url, contract, concatBytes(SELECTOR.agencyInfo, id))),
  );
  const [accounts, keys] = decodeAbi(
    ['address[]', 'bytes32[]'],
    fromHex(await ethCall(url, contract, concatBytes(SELECTOR.members, id))),
  );
  if (accounts.length !== keys.length) throw new ProtocolError('members: accounts and keys differ in number');
  return { exists, active, members: accounts.map((account, i) => ({ account, encryptionKey: keys[i] })) };
}

export async function maxMergeDelay(url, contract) {
  return bytesToBigInt(words(await ethCall(url, contract, SELECTOR.maxMergeDelay), 1)[0]);
}

// --- events over JSON-RPC (the transparency page) ----------------------------------------------

/** The latest block: {number, timestamp} (BigInt), the moment the page's figures are as of. */
export async function latestBlock(url) {
  const block = await rpc(url, 'eth_getBlockByNumber', ['latest', false]);
  if (!block) throw new RpcError('the node has no latest block');
  return { number: BigInt(block.number), timestamp: BigInt(block.timestamp) };
}

/**
 * Every log of `contract` matching `topics` in blocks from..to (BigInt, inclusive), in chain
 * order. Public nodes cap how much one eth_getLogs may return: a range the node refuses is
 * asked again in halves (a network failure is not retried).
 */
export async function getLogs(url, contract, topics, from, to) {
  const address = toHex(addressBytes(contract));
  const found = [];
  const ranges = [[from, to]];
  while (ranges.length) {
    const [lo, hi] = ranges.pop();
    let logs;
    try {
      logs = await rpc(url, 'eth_getLogs', [
        { address, topics, fromBlock: quantity(lo), toBlock: quantity(hi) },
      ]);
    } catch (exc) {
      if (!exc.refused || hi <= lo) throw exc;
      const mid = (lo + hi) / 2n;
      ranges.push([mid + 1n, hi], [lo, mid]); // the lower half first
      continue;
    }
    if (!Array.isArray(logs)) throw new RpcError('eth_getLogs did not answer a list');
    found.push(...logs.filter((log) => !log.removed));
  }
  const at = (log) => [BigInt(log.blockNumber), BigInt(log.logIndex)];
  return found.sort((a, b) => {
    const [ab, ai] = at(a);
    const [bb, bi] = at(b);
    return ab === bb ? (ai < bi ? -1 : ai > bi ? 1 : 0) : ab < bb ? -1 : 1;
  });
}

/** An event declared as in Solidity: `Name(type [indexed] name, ...)`, with its topic. */
export function eventSpec(declaration) {
  const match = /^(\w+)\((.*)\)$/.exec(declaration.trim());
  if (!match) throw new ProtocolError(`not an event declaration: ${declaration}`);
  const inputs = match[2]
    .split(',')
    .map((part) => part.trim().split(/\s+/))
    .map((words) => ({
      type: words[0],
      indexed: words.length === 3 && words[1] === 'indexed',
      name: words[words.length - 1],
    }));
  const signature = `${match[1]}(${inputs.map((input) => input.type).join(',')})`;
  return { name: match[1], signature, topic: toHex(keccak_256(utf8(signature))), inputs };
}

/** The fields of `log` for the event `spec` (see eventSpec): topics, then the ABI data. */
export function decodeLog(spec, log) {
  const topics = log.topics || [];
  if (topics[0] !== spec.topic) throw new ProtocolError(`not a ${spec.name} log`);
  const indexed = spec.inputs.filter((input) => input.indexed);
  if (topics.length !== indexed.length + 1) {
    throw new ProtocolError(`${spec.name}: ${topics.length - 1} indexed fields, expected ${indexed.length}`);
  }
  const plain = spec.inputs.filter((input) => !input.indexed);
  const values = decodeAbi(
    plain.map((input) => input.type),
    fromHex(log.data),
  );
  const out = {
    blockNumber: BigInt(log.blockNumber),
    logIndex: BigInt(log.logIndex),
    transactionHash: log.transactionHash,
  };
  indexed.forEach((input, i) => {
    out[input.name] = decodeWord(input.type, fromHex(topics[i + 1], 32));
  });
  plain.forEach((input, i) => {
    out[input.name] = values[i];
  });
  return out;
}

/** Solidity ABI decoding of `types` (static words, string, bytes, T[] of static T). */
export function decodeAbi(types, data) {
  const word = (at) => {
    if (at + 32 > data.length) throw new ProtocolError(`ABI data ends at ${data.length} bytes`);
    return data.subarray(at, at + 32);
  };
  const offset = (at) => {
    const value = bytesToBigInt(word(at));
    if (value > BigInt(data.length)) throw new ProtocolError('ABI offset past the data');
    return Number(value);
  };
  return types.map((type, i) => {
    if (type === 'string' || type === 'bytes') {
      const start = offset(32 * i);
      const length = offset(start);
      if (start + 32 + length > data.length) throw new ProtocolError(`ABI ${type} past the data`);
      const raw = data.slice(start + 32, start + 32 + length);
      return type === 'bytes' ? raw : new TextDecoder('utf-8', { fatal: true }).decode(raw);
    }
    if (type.endsWith('[]')) {
      const inner = type.slice(0, -2);
      const start = offset(32 * i);
      const length = offset(start);
      return Array.from({ length }, (_, k) => decodeWord(inner, word(start + 32 + 32 * k)));
    }
    return decodeWord(type, word(32 * i));
  });
}

/** The 6-byte size of one routing count: uint16 agency index || uint32 count (PROTOCOL 16.4). */
export const ROUTING_COUNT_SIZE = 6;

/**
 * A Routed event's packed `counts` as [{index, count}] (numbers), in their order: the index is
 * the agency's position in the order agencies were added (its AgencyAdded event).
 */
export function routingCounts(packed) {
  if (!(packed instanceof Uint8Array) || packed.length % ROUTING_COUNT_SIZE) {
    throw new ProtocolError(`routing counts are ${ROUTING_COUNT_SIZE}-byte entries`);
  }
  const view = new DataView(packed.buffer, packed.byteOffset, packed.length);
  return Array.from({ length: packed.length / ROUTING_COUNT_SIZE }, (_, k) => ({
    index: view.getUint16(ROUTING_COUNT_SIZE * k),
    count: view.getUint32(ROUTING_COUNT_SIZE * k + 2),
  }));
}

/** One 32-byte ABI word as `type`: uintN (BigInt), bool, address (EIP-55), bytes32. */
export function decodeWord(type, raw) {
  const value = bytesToBigInt(raw);
  const uint = /^uint(\d+)$/.exec(type);
  if (uint) {
    if (value >> BigInt(uint[1])) throw new ProtocolError(`${type} out of range`);
    return value;
  }
  switch (type) {
    case 'bool':
      if (value > 1n) throw new ProtocolError('a bool word is 0 or 1');
      return value === 1n;
    case 'address':
      if (value >> 160n) throw new ProtocolError('an address word has 12 zero bytes first');
      return checksumAddress(raw.subarray(12));
    case 'bytes32':
      return raw.slice();
    default:
      throw new ProtocolError(`cannot decode ABI type ${type}`);
  }
}
