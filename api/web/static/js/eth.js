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
  checkpoint: keccak_256(utf8('checkpoint(uint64)')).subarray(0, 4),
  hasRole: keccak_256(utf8('hasRole(bytes32,address)')).subarray(0, 4),
  maxMergeDelay: keccak_256(utf8('maxMergeDelay()')).subarray(0, 4),
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
    throw new RpcError(`${method}: ${reply.error.message || JSON.stringify(reply.error)}`);
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

/** `checkpoint(treeSize)`: {rootHash (bytes), timestamp (BigInt), blockNumber (BigInt)}. */
export async function readCheckpoint(url, contract, treeSize) {
  const result = await ethCall(url, contract, concatBytes(SELECTOR.checkpoint, uint256Bytes(treeSize)));
  const [root, timestamp, blockNumber] = words(result, 3);
  return { rootHash: root, timestamp: bytesToBigInt(timestamp), blockNumber: bytesToBigInt(blockNumber) };
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

export async function maxMergeDelay(url, contract) {
  return bytesToBigInt(words(await ethCall(url, contract, SELECTOR.maxMergeDelay), 1)[0]);
}
