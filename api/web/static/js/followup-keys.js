// The reporter's keys for a follow-up, made and used on this device (ledger/core/followup.py,
// byte for byte): the version 2 secret, the token shown instead of it, the enrolment sent with
// the tip, the reporter key, and the opening of the desk's sealed questions.
//
// HKDF-SHA256 is WebCrypto's; X25519 and HPKE are the vendored @hpke/core with
// @hpke/dhkem-x25519 (RFC 7748 clamping happens inside X25519, as in Python's cryptography).
// Sealing answers is seal.js's sealMessage. The secret never leaves this device: the service
// gets the enrolment once and the token on every request.
//
// Frozen like its Python twin: tests/e2e/test_js_follow_up.py checks both ways.

import { Aes256Gcm, CipherSuite, HkdfSha256 } from '../vendor/hpke-core/esm/mod.js';
import { DhkemX25519HkdfSha256, X25519, HkdfSha256 as KemHkdf } from '../vendor/hpke-dhkem-x25519/esm/mod.js';
import { concatBytes, equalBytes, toHex, utf8 } from './protocol.js';
import { keyId } from './seal.js';

export const SECRET_SIZE = 32;
export const TOKEN_SIZE = 32;
export const MESSAGE_ID_SIZE = 16;
export const COMMITMENT_SIZE = 32;
export const SECRET_PREFIX_V1 = 'tlf1_';
export const SECRET_PREFIX_V2 = 'tlf2_';
export const TOKEN_PREFIX = 'tlt2_';
export const ENROLMENT_VERSION = 2;
export const FROM_REVIEWER = 1;
export const FROM_REPORTER = 2;
export const SENDERS = { reviewer: FROM_REVIEWER, reporter: FROM_REPORTER };

const KEY_INFO = utf8('tipledger/v1/follow-up/key');
const TOKEN_INFO = utf8('tipledger/v2/follow-up/token');
const MESSAGE_INFO = utf8('tipledger/v1/follow-up');
const MESSAGE_VERSION = 1;
const HEADER_SIZE = 1 + 8;
const ENC_SIZE = 32;
const TAG_SIZE = 16;
const SECRET_TEXT = /^(tlf[12]_)([A-Za-z0-9_-]{43})$/;

const suite = new CipherSuite({
  kem: new DhkemX25519HkdfSha256(),
  kdf: new HkdfSha256(),
  aead: new Aes256Gcm(),
});
const x25519 = new X25519(new KemHkdf());

export class FollowUpKeyError extends Error {
  constructor(message) {
    super(message);
    this.name = 'FollowUpKeyError';
  }
}

// --- text forms --------------------------------------------------------------------------------

export function toBase64Url(bytes) {
  let binary = '';
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary).replaceAll('+', '-').replaceAll('/', '_').replace(/=+$/, '');
}

export function fromBase64Url(text) {
  const binary = atob(text.replaceAll('-', '+').replaceAll('_', '/') + '='.repeat((4 - (text.length % 4)) % 4));
  return Uint8Array.from(binary, (c) => c.charCodeAt(0));
}

/** {version, raw} of a secret written as "tlf1_…" or "tlf2_…" (spaces ignored), or null. */
export function parseSecret(text) {
  const match = SECRET_TEXT.exec(String(text ?? '').replace(/\s+/g, ''));
  if (!match) return null;
  const raw = fromBase64Url(match[2]);
  if (raw.length !== SECRET_SIZE) return null;
  return { version: match[1] === SECRET_PREFIX_V2 ? 2 : 1, raw };
}

// --- derivations -------------------------------------------------------------------------------

async function hkdf(ikm, salt, info, length = 32) {
  checkBytes('commitment', salt, COMMITMENT_SIZE);
  const key = await crypto.subtle.importKey('raw', ikm, 'HKDF', false, ['deriveBits']);
  const bits = await crypto.subtle.deriveBits({ name: 'HKDF', hash: 'SHA-256', salt, info }, key, length * 8);
  return new Uint8Array(bits);
}

/** The reporter's X25519 key for this tip: {privateRaw, publicRaw} (as Python's reporter_key). */
export async function reporterKey(secretRaw, commitment) {
  checkBytes('secret', secretRaw, SECRET_SIZE);
  const privateRaw = await hkdf(secretRaw, commitment, KEY_INFO);
  const sk = await x25519.deserializePrivateKey(privateRaw.slice().buffer);
  const publicRaw = new Uint8Array(await x25519.serializePublicKey(await x25519.derivePublicKey(sk)));
  return { privateRaw, publicRaw };
}

/** The 32-byte token T of a version 2 secret for this tip (HKDF-SHA256, its own info). */
export function followUpToken(secretRaw, commitment) {
  checkBytes('secret', secretRaw, SECRET_SIZE);
  return hkdf(secretRaw, commitment, TOKEN_INFO);
}

/** SHA-256(T): the verifier the service stores. */
export async function tokenVerifier(token) {
  checkBytes('token', token, TOKEN_SIZE);
  return new Uint8Array(await crypto.subtle.digest('SHA-256', token));
}

/** The enrolment of a version 2 secret: {version: 2, reporter_key, verifier} (0x hex). */
export async function enrolment(secretRaw, commitment) {
  const { publicRaw } = await reporterKey(secretRaw, commitment);
  const verifier = await tokenVerifier(await followUpToken(secretRaw, commitment));
  return { version: ENROLMENT_VERSION, reporter_key: toHex(publicRaw), verifier: toHex(verifier) };
}

/**
 * A fresh follow-up made here for the tip `commitment` (32 bytes): {secret: 'tlf2_…', enrolment}.
 * The secret is for the reporter to keep (it goes into the receipt, never to the service); the
 * enrolment is the sealed tip's `follow_up` field.
 */
export async function newFollowUp(commitment) {
  checkBytes('commitment', commitment, COMMITMENT_SIZE);
  const raw = crypto.getRandomValues(new Uint8Array(SECRET_SIZE));
  return { secret: SECRET_PREFIX_V2 + toBase64Url(raw), enrolment: await enrolment(raw, commitment) };
}

/**
 * What this device needs to follow a tip up with `secretText`: {version, bearer, key}. `bearer`
 * goes after "Authorization: Bearer": the token for version 2 (the secret stays here), the
 * secret itself for version 1 (the service made it, and knows it anyway).
 */
export async function followUpKeys(secretText, commitment) {
  const secret = parseSecret(secretText);
  if (!secret) throw new FollowUpKeyError('not a follow-up secret (tlf1_… or tlf2_…)');
  const key = await reporterKey(secret.raw, commitment);
  const bearer =
    secret.version === 2
      ? TOKEN_PREFIX + toBase64Url(await followUpToken(secret.raw, commitment))
      : SECRET_PREFIX_V1 + toBase64Url(secret.raw);
  return { version: secret.version, bearer, key };
}

// --- opening -----------------------------------------------------------------------------------

/**
 * The text of one sealed message copy (ledger.core.followup.open_message): checks the version
 * and the key id, then opens it bound to its tip, id and sender. Throws FollowUpKeyError if it
 * is not this key's, or was altered or moved.
 */
export async function openMessage(key, envelope, { commitment, messageId, sender }) {
  checkBytes('sealed message', envelope);
  checkBytes('commitment', commitment, COMMITMENT_SIZE);
  checkBytes('message id', messageId, MESSAGE_ID_SIZE);
  if (sender !== FROM_REVIEWER && sender !== FROM_REPORTER) {
    throw new FollowUpKeyError(`unknown sender ${sender}`);
  }
  const id = toHex(messageId);
  if (envelope.length < HEADER_SIZE + ENC_SIZE + TAG_SIZE) {
    throw new FollowUpKeyError(`message ${id} is too short to be a sealed message`);
  }
  if (envelope[0] !== MESSAGE_VERSION) {
    throw new FollowUpKeyError(`message ${id}: unknown sealed-message version ${envelope[0]}`);
  }
  const header = envelope.subarray(0, HEADER_SIZE);
  if (!equalBytes(header.subarray(1), keyId(key.publicRaw))) {
    throw new FollowUpKeyError(`message ${id} is sealed to another key`);
  }
  const info = concatBytes(MESSAGE_INFO, header, commitment, messageId, [sender]);
  let plaintext;
  try {
    const privateKey = await suite.kem.deserializePrivateKey(key.privateRaw.slice().buffer);
    const publicKey = await suite.kem.deserializePublicKey(key.publicRaw.slice().buffer);
    plaintext = await suite.open(
      {
        recipientKey: { privateKey, publicKey },
        enc: envelope.slice(HEADER_SIZE, HEADER_SIZE + ENC_SIZE).buffer,
        info: info.slice().buffer,
      },
      envelope.slice(HEADER_SIZE + ENC_SIZE).buffer,
    );
  } catch {
    throw new FollowUpKeyError(`message ${id} does not open: it was altered, or belongs elsewhere`);
  }
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(plaintext);
  } catch {
    throw new FollowUpKeyError(`message ${id} is not UTF-8 text`);
  }
}

function checkBytes(name, value, size) {
  if (!(value instanceof Uint8Array)) throw new FollowUpKeyError(`${name}: expected bytes`);
  if (size !== undefined && value.length !== size) {
    throw new FollowUpKeyError(`${name}: expected ${size} bytes, got ${value.length}`);
  }
}
