// An identity sealed on the reporter's device: identity record version 2 (PROTOCOL.md, and
// ledger/core/identity_v2.py, byte for byte). The identity JSON is encrypted under a fresh key K,
// K is split k-of-n with the audited shamir-secret-sharing (GF(2^8)), and each share is
// HPKE-sealed to its custodian's X25519 key; the service receives only the record and never the
// identity. custodianSet() fetches the keys from the service and checks them against the chain
// before anything is sealed to them: each registration signature must recover to its custodian's
// address, and that address must hold CUSTODIAN_ROLE on the TipLedger contract.

import { Aes256Gcm, CipherSuite, HkdfSha256 } from '../vendor/hpke-core/esm/mod.js';
import { DhkemX25519HkdfSha256 } from '../vendor/hpke-dhkem-x25519/esm/mod.js';
import { split } from '../vendor/shamir-secret-sharing/esm/index.js';
import { chainId, checksumAddress, hasRole, keccak256, recoverDigestSigner } from './eth.js';
import { concatBytes, fromHex, sha256, toHex, utf8 } from './protocol.js';
import { webConfig } from './ui.js';

export const RECORD_FORMAT_V2 = 'tipledger-identity-record/2';
export const DATA_KEY_INFO_V2 = utf8('tipledger/v2/identity');
export const SHARE_INFO_TAG_V2 = utf8('tipledger/v2/share');
export const RECORD_KINDS = ['reporter', 'witness'];
export const MAX_IDENTITY_SIZE = 64 * 1024;
export const SECRET_SIZE = 16;
export const SHARE_VALUE_SIZE = SECRET_SIZE + 1; // y (16) || x (1)
export const SEALED_SHARE_SIZE = 32 + SHARE_VALUE_SIZE + 16; // enc || ct
export const CUSTODIAN_ROLE = keccak256(utf8('CUSTODIAN_ROLE'));
const REGISTRATION_SIGNATURE_SIZE = 65;
const KEY_ID_SIZE = 8;

const suite = new CipherSuite({
  kem: new DhkemX25519HkdfSha256(),
  kdf: new HkdfSha256(),
  aead: new Aes256Gcm(),
});

/** A refusal the page can show as it is: it names the custodian or field at fault. */
export class IdentitySealError extends Error {
  constructor(message) {
    super(message);
    this.name = 'IdentitySealError';
  }
}

// --- the identity JSON: what Python's identity_bytes writes ------------------------------------

function codePointOrder(a, b) {
  // Python sorts str keys by code point; JS's default sort compares UTF-16 code units.
  const x = Array.from(a, (c) => c.codePointAt(0));
  const y = Array.from(b, (c) => c.codePointAt(0));
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    if (x[i] !== y[i]) return x[i] - y[i];
  }
  return x.length - y.length;
}

function wellFormed(text, where) {
  if (!text.isWellFormed()) {
    throw new IdentitySealError(`${where} holds a lone surrogate: it is not Unicode text`);
  }
  return text;
}

function canonical(value, where) {
  if (value === null || value === true || value === false) return JSON.stringify(value);
  if (typeof value === 'string') return JSON.stringify(wellFormed(value, where));
  if (typeof value === 'number') {
    // Python writes 1.0 where JS writes 1: only integers have one spelling in both
    if (!Number.isSafeInteger(value)) {
      throw new IdentitySealError(`${where} is ${value}: identity numbers are whole and safe`);
    }
    return String(value);
  }
  if (Array.isArray(value)) {
    return `[${value.map((v, i) => canonical(v, `${where}[${i}]`)).join(',')}]`;
  }
  if (typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    const keys = Object.keys(value).sort(codePointOrder);
    const parts = keys.map(
      (k) => `${JSON.stringify(wellFormed(k, `a key in ${where}`))}:${canonical(value[k], `${where}.${k}`)}`,
    );
    return `{${parts.join(',')}}`;
  }
  throw new IdentitySealError(`${where} cannot be written as JSON (${typeof value})`);
}

/** The identity's compact, key-sorted UTF-8 JSON: json.dumps(sort_keys=True,
 * separators=(',', ':'), ensure_ascii=False) as Python's ledger.core.identity writes it. */
export function identityBytes(identity) {
  if (identity === null || typeof identity !== 'object' || Array.isArray(identity)) {
    throw new IdentitySealError('the identity is a JSON object');
  }
  const data = utf8(canonical(identity, 'the identity'));
  if (data.length > MAX_IDENTITY_SIZE) {
    throw new IdentitySealError(
      `the identity is ${data.length} bytes of JSON, at most ${MAX_IDENTITY_SIZE} are allowed`,
    );
  }
  return data;
}

// --- sealing -------------------------------------------------------------------------------------

function randomBytes(n) {
  return crypto.getRandomValues(new Uint8Array(n));
}

function uint32(value) {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, value);
  return out;
}

async function keyIdOf(raw) {
  return toHex((await sha256(raw)).subarray(0, KEY_ID_SIZE)).slice(2);
}

async function checkedCustodians(custodians) {
  if (!Array.isArray(custodians) || custodians.length < 2 || custodians.length > 255) {
    throw new IdentitySealError('an identity is sealed to 2 to 255 custodians');
  }
  const seen = new Set();
  const out = [];
  for (const [i, c] of custodians.entries()) {
    let raw;
    try {
      raw = fromHex(c?.x25519_public, 32);
    } catch (exc) {
      throw new IdentitySealError(`custodian ${i + 1}: x25519_public: ${exc.message}`);
    }
    const keyId = await keyIdOf(raw);
    if (c.key_id !== keyId) {
      throw new IdentitySealError(
        `custodian ${i + 1}: key id ${c.key_id} does not match its public key (id ${keyId})`,
      );
    }
    if (seen.has(keyId)) throw new IdentitySealError(`custodian key ${keyId} appears twice`);
    seen.add(keyId);
    out.push({ keyId, raw });
  }
  return out;
}

async function dataKey(secret) {
  const ikm = await crypto.subtle.importKey('raw', secret, 'HKDF', false, ['deriveKey']);
  return crypto.subtle.deriveKey(
    { name: 'HKDF', hash: 'SHA-256', salt: new Uint8Array(0), info: DATA_KEY_INFO_V2 },
    ikm,
    { name: 'AES-GCM', length: 256 },
    false,
    ['encrypt'],
  );
}

async function sealShare(recordId, index, value, custodian) {
  const info = concatBytes(
    SHARE_INFO_TAG_V2,
    recordId,
    uint32(0),
    Uint8Array.of(index),
    fromHex(`0x${custodian.keyId}`, KEY_ID_SIZE),
  );
  let sealed;
  try {
    const recipientPublicKey = await suite.kem.deserializePublicKey(custodian.raw);
    sealed = await suite.seal({ recipientPublicKey, info }, value);
  } catch (exc) {
    throw new IdentitySealError(
      `cannot seal to custodian key ${custodian.keyId}: ${exc.message || exc}`,
    );
  }
  const out = concatBytes(new Uint8Array(sealed.enc), new Uint8Array(sealed.ct));
  if (out.length !== SEALED_SHARE_SIZE) throw new IdentitySealError('a sealed share is 65 bytes');
  return out;
}

/**
 * Seal `identity` (a JSON object) for `kind`'s custodians: an identity record version 2 as a JSON
 * object, ready to send. `custodians` ([{key_id, x25519_public}], share order) and `threshold`
 * come from custodianSet(kind), which checked them against the chain.
 */
export async function sealIdentity({ identity, kind, custodians, threshold }) {
  if (!RECORD_KINDS.includes(kind)) {
    throw new IdentitySealError(`unknown record kind ${JSON.stringify(kind)}`);
  }
  const plaintext = identityBytes(identity);
  const keys = await checkedCustodians(custodians);
  if (!Number.isInteger(threshold) || threshold < 2 || threshold > keys.length) {
    throw new IdentitySealError(`the threshold must be from 2 to ${keys.length}, got ${threshold}`);
  }
  const secret = randomBytes(SECRET_SIZE);
  const recordId = randomBytes(32);
  const nonce = randomBytes(12);
  let shares = [];
  try {
    const key = await dataKey(secret);
    const ciphertext = new Uint8Array(
      await crypto.subtle.encrypt({ name: 'AES-GCM', iv: nonce, additionalData: recordId }, key, plaintext),
    );
    shares = await split(secret, keys.length, threshold);
    const sealed = [];
    for (const [i, custodian] of keys.entries()) {
      sealed.push({
        index: i + 1,
        custodian_key_id: custodian.keyId,
        epoch: 0,
        sealed: toHex(await sealShare(recordId, i + 1, shares[i], custodian)),
      });
    }
    return {
      format: RECORD_FORMAT_V2,
      record_id: toHex(recordId),
      kind,
      epoch: 0,
      threshold,
      nonce: toHex(nonce),
      ciphertext: toHex(ciphertext),
      sealed_shares: sealed,
    };
  } finally {
    secret.fill(0); // K and its shares leave this function only sealed
    for (const share of shares) share.fill(0);
  }
}

// --- the custodian keys, checked against the chain ---------------------------------------------

/** The text a custodian's Ethereum key signs to register (ledger/vault/digests.py). */
export function registrationStatement(chainIdValue, contract, custodian) {
  return [
    'TipLedger custodian registration',
    'I hold the X25519 key below and open identity shares sealed to it only as TipLedger allows.',
    `Chain ID: ${BigInt(chainIdValue)}`,
    `Contract: ${checksumAddress(fromHex(contract, 20))}`,
    `Address: ${checksumAddress(fromHex(custodian.address, 20))}`,
    `X25519 public key: ${toHex(fromHex(custodian.x25519_public, 32))}`,
    `Key ID: ${custodian.key_id}`,
  ].join('\n');
}

/** EIP-191 personal_sign digest of a text message. */
export function personalMessageDigest(text) {
  const message = utf8(text);
  return keccak256(concatBytes(utf8(`\x19Ethereum Signed Message:\n${message.length}`), message));
}

/** The address that signed `custodian`'s registration; throws unless it is the custodian's. */
export function checkRegistration(chainIdValue, contract, custodian) {
  let signature;
  let signer;
  try {
    signature = fromHex(custodian.registration_signature, REGISTRATION_SIGNATURE_SIZE);
    const digest = personalMessageDigest(registrationStatement(chainIdValue, contract, custodian));
    signer = recoverDigestSigner(digest, signature);
  } catch (exc) {
    throw new IdentitySealError(
      `custodian ${custodian?.key_id}: the registration signature does not check (${exc.message})`,
    );
  }
  const address = checksumAddress(fromHex(custodian.address, 20));
  if (signer !== address) {
    throw new IdentitySealError(
      `custodian ${custodian.key_id}: its registration is signed by ${signer}, not by its ` +
        `address ${address}`,
    );
  }
  return address;
}

/**
 * The current custodian set of `kind`, checked: {kind, threshold, custodians: [{key_id,
 * x25519_public, address}], setId, version}. The service lists it; this checks in the browser
 * that the node's chain is the deployment's, that each registration signature recovers to its
 * custodian's address for this chain and contract, and that every address holds CUSTODIAN_ROLE
 * on chain now. Throws an IdentitySealError naming the first custodian that fails.
 * `options`: {rpcUrl, apiBase, fetch} (defaults: /web-config.json's RPC URL, this origin).
 */
export async function custodianSet(kind, options = {}) {
  if (!RECORD_KINDS.includes(kind)) {
    throw new IdentitySealError(`unknown record kind ${JSON.stringify(kind)}`);
  }
  const config = await webConfig();
  const rpcUrl = options.rpcUrl || config.rpc_url;
  if (!rpcUrl) throw new IdentitySealError('no JSON-RPC URL to check the custodians on chain');
  const fetchImpl = options.fetch || fetch;
  const response = await fetchImpl(`${options.apiBase || ''}/v1/vault/custodian-set/${kind}`, {
    credentials: 'omit',
    cache: 'no-store',
  });
  if (!response.ok) {
    let detail = `HTTP ${response.status}`;
    try {
      detail = (await response.json()).detail || detail;
    } catch {
      // keep the status
    }
    throw new IdentitySealError(`the service has no ${kind} custodian set to seal to: ${detail}`);
  }
  const set = await response.json();
  // The chain and contract are the page's configuration, not the answer's: the answer must agree.
  const contract = checksumAddress(fromHex(config.contract, 20));
  if (BigInt(set.chain_id) !== BigInt(config.chain_id) || set.contract !== contract) {
    throw new IdentitySealError('the custodian set is for another chain or contract');
  }
  const nodeChain = await chainId(rpcUrl);
  if (nodeChain !== BigInt(config.chain_id)) {
    throw new IdentitySealError(
      `the node at ${rpcUrl} is chain ${nodeChain}, this deployment is chain ${config.chain_id}`,
    );
  }
  if (set.kind !== kind || !Array.isArray(set.custodians)) {
    throw new IdentitySealError(`the service answered with no ${kind} custodian set`);
  }
  const checked = [];
  for (const [i, custodian] of set.custodians.entries()) {
    if (custodian.index !== i + 1) {
      throw new IdentitySealError(`custodian ${custodian.key_id} is listed out of share order`);
    }
    const raw = fromHex(custodian.x25519_public, 32);
    if (custodian.key_id !== (await keyIdOf(raw))) {
      throw new IdentitySealError(`custodian ${custodian.key_id}: the key id is not its key's`);
    }
    const address = checkRegistration(config.chain_id, contract, custodian);
    if (!(await hasRole(rpcUrl, contract, CUSTODIAN_ROLE, address))) {
      throw new IdentitySealError(
        `custodian ${custodian.key_id} (${address}) does not hold CUSTODIAN_ROLE on chain: ` +
          'refusing to seal an identity to it',
      );
    }
    checked.push({ key_id: custodian.key_id, x25519_public: toHex(raw), address });
  }
  await checkedCustodians(checked); // 2..255, distinct keys
  if (!Number.isInteger(set.threshold) || set.threshold < 2 || set.threshold > checked.length) {
    throw new IdentitySealError(`the set's threshold ${set.threshold} is not from 2 to ${checked.length}`);
  }
  return {
    kind,
    threshold: set.threshold,
    custodians: checked,
    setId: set.set_id,
    version: set.version,
  };
}
