// Sealing on the reporter's device (PROTOCOL.md section 17), byte for byte the same as
// ledger/core/envelope.py, casekey.py, followup.py and attachment.py. The service then receives
// only ciphertext: it can check which keys things are sealed to, never read them.
//
// HPKE (RFC 9180) is the vendored @hpke/core with @hpke/dhkem-x25519: base mode, single shot,
// DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-256-GCM (0x0020, 0x0001, 0x0002), whatever a
// ciphertext is bound to in `info`, empty AAD: exactly ledger.core.hpke. Attachment chunks are
// WebCrypto AES-GCM; SHA-256 over files is the vendored noble sha256, fed chunk by chunk.
//
// Frozen like its Python twins: tests/e2e/test_js_seal.py opens what this seals with ledger.core.

import { Aes256Gcm, CipherSuite, HkdfSha256 } from '../vendor/hpke-core/esm/mod.js';
import { DhkemX25519HkdfSha256 } from '../vendor/hpke-dhkem-x25519/esm/mod.js';
import { sha256 as nobleSha256 } from '../vendor/noble-hashes/sha2.js';
import {
  ADDRESS_SIZE,
  SALT_SIZE,
  commitment as commitTo,
  concatBytes,
  contentDigest,
  equalBytes,
  toHex,
  utf8,
} from './protocol.js';

export const KEY_SIZE = 32;
export const KEY_ID_SIZE = 8;
export const ENC_SIZE = 32;
export const TAG_SIZE = 16;
export const COMMITMENT_SIZE = 32;
export const MESSAGE_ID_SIZE = 16;
export const FROM_REVIEWER = 1;
export const FROM_REPORTER = 2;
export const MAX_MESSAGE_TEXT = 10000; // characters (code points), as in ledger.core.followup
export const GRANT_SIZE = 1 + KEY_ID_SIZE + ENC_SIZE + KEY_SIZE + TAG_SIZE; // 89

export const CHUNK_SIZE = 65536;
export const FILE_KEY_SIZE = 32;
export const ATTACHMENT_HEADER_SIZE = 1 + KEY_ID_SIZE + ENC_SIZE + FILE_KEY_SIZE + TAG_SIZE; // 89
export const MAX_ATTACHMENT_INDEX = 0xffff;

const VERSION = 1;
const DESK_INFO = utf8('tipledger/v1/desk');
const GRANT_INFO = utf8('tipledger/v1/case-key');
const MESSAGE_INFO = utf8('tipledger/v1/follow-up');
const ATTACHMENT_INFO = utf8('tipledger/v1/attachment');
const READ_BLOCKS = 16; // chunks read from a file at once (1 MiB): fewer, larger reads
const FOLD_BYTES = 4 * 1024 * 1024; // sealed bytes kept in JS before they move into a Blob

const suite = new CipherSuite({
  kem: new DhkemX25519HkdfSha256(),
  kdf: new HkdfSha256(),
  aead: new Aes256Gcm(),
});

export class SealError extends Error {
  constructor(message) {
    super(message);
    this.name = 'SealError';
  }
}

// --- keys ------------------------------------------------------------------------------------

/** The first 8 bytes of SHA-256 over a raw 32-byte X25519 public key (ledger.core.hpke). */
export function keyId(publicRaw) {
  checkBytes('public key', publicRaw, KEY_SIZE);
  return nobleSha256(publicRaw).slice(0, KEY_ID_SIZE);
}

/** A fresh case key: {privateRaw, publicRaw, keyId}, the raw 32-byte X25519 halves. */
export async function newCaseKey() {
  const pair = await suite.kem.generateKeyPair();
  const privateRaw = new Uint8Array(await suite.kem.serializePrivateKey(pair.privateKey));
  const publicRaw = new Uint8Array(await suite.kem.serializePublicKey(pair.publicKey));
  return { privateRaw, publicRaw, keyId: keyId(publicRaw) };
}

/** `enc || ciphertext`: `plaintext` sealed to `publicRaw`, bound to `info` (ledger.core.hpke). */
export async function hpkeSeal(publicRaw, plaintext, info) {
  checkBytes('public key', publicRaw, KEY_SIZE);
  let sealed;
  try {
    const recipientPublicKey = await suite.kem.deserializePublicKey(publicRaw.slice().buffer);
    const params = { recipientPublicKey, info: info.slice().buffer };
    sealed = await suite.seal(params, plaintext.slice().buffer);
  } catch (err) {
    // A low-order point gives no shared secret; the library says so in its own words.
    throw new SealError(`cannot seal to key ${hex(keyId(publicRaw))}: ${err?.message || err}`);
  }
  return concatBytes(new Uint8Array(sealed.enc), new Uint8Array(sealed.ct));
}

// --- the tip, its case key, follow-up messages -----------------------------------------------

/**
 * A tip's document, salt and author sealed to its case key, bound to its commitment: the
 * envelope of ledger/core/envelope.py, version 1. Refuses a commitment that is not the one of
 * this salt, document and author (the desk could never open such an envelope).
 */
export async function sealTip(casePublicRaw, { commitment, document, salt, author }) {
  checkBytes('case public key', casePublicRaw, KEY_SIZE);
  checkBytes('commitment', commitment, COMMITMENT_SIZE);
  checkBytes('document', document);
  checkBytes('salt', salt, SALT_SIZE);
  checkBytes('author', author, ADDRESS_SIZE);
  const expected = await commitTo(salt, await contentDigest(document), author);
  if (!equalBytes(expected, commitment)) {
    throw new SealError(
      `refusing to seal: salt, document and author commit to ${toHex(expected)}, ` +
        `not to ${toHex(commitment)}`,
    );
  }
  const header = concatBytes([VERSION], keyId(casePublicRaw));
  const info = concatBytes(DESK_INFO, header, commitment);
  const plaintext = concatBytes(salt, author, document);
  return concatBytes(header, await hpkeSeal(casePublicRaw, plaintext, info));
}

/**
 * The case private key granted to one member (89 bytes, ledger/core/casekey.py): sealed to the
 * member's key, bound to the member, the tip and the case key. `casePublicRaw` must be the
 * public half of `casePrivateRaw` (as newCaseKey gives them): its key id is in `info`.
 */
export async function grantCaseKey(memberPublicRaw, casePrivateRaw, casePublicRaw, commitment) {
  checkBytes('member key', memberPublicRaw, KEY_SIZE);
  checkBytes('case private key', casePrivateRaw, KEY_SIZE);
  checkBytes('case public key', casePublicRaw, KEY_SIZE);
  checkBytes('commitment', commitment, COMMITMENT_SIZE);
  const header = concatBytes([VERSION], keyId(memberPublicRaw));
  const info = concatBytes(GRANT_INFO, header, commitment, keyId(casePublicRaw));
  return concatBytes(header, await hpkeSeal(memberPublicRaw, casePrivateRaw, info));
}

/**
 * One copy of a follow-up message (ledger/core/followup.py, version 1), sealed to `publicRaw`
 * and bound to its tip, its id and its sender (FROM_REVIEWER or FROM_REPORTER).
 */
export async function sealMessage(publicRaw, { commitment, messageId, sender, text }) {
  checkBytes('commitment', commitment, COMMITMENT_SIZE);
  checkBytes('message id', messageId, MESSAGE_ID_SIZE);
  if (sender !== FROM_REVIEWER && sender !== FROM_REPORTER) {
    throw new SealError(
      `a message's sender is ${FROM_REVIEWER} (reviewer) or ${FROM_REPORTER} (reporter), ` +
        `got ${sender}`,
    );
  }
  if (typeof text !== 'string') throw new SealError('a message is text');
  if (!text.trim()) throw new SealError('the message is empty');
  const length = [...text].length; // code points, as Python counts them
  if (length > MAX_MESSAGE_TEXT) {
    throw new SealError(
      `a message is at most ${MAX_MESSAGE_TEXT} characters, this one has ${length}`,
    );
  }
  const header = concatBytes([VERSION], keyId(publicRaw));
  const info = concatBytes(MESSAGE_INFO, header, commitment, messageId, [sender]);
  return concatBytes(header, await hpkeSeal(publicRaw, utf8(text), info));
}

/** 16 fresh bytes for a message id. */
export function newMessageId() {
  return crypto.getRandomValues(new Uint8Array(MESSAGE_ID_SIZE));
}

// --- attachments (ledger/core/attachment.py) ---------------------------------------------------

/** The size of the stream that seals `plainSize` bytes. */
export function sealedSize(plainSize) {
  if (!Number.isSafeInteger(plainSize) || plainSize < 0) {
    throw new SealError(`an attachment's size is a non-negative integer, got ${plainSize}`);
  }
  return ATTACHMENT_HEADER_SIZE + plainSize + TAG_SIZE * chunkCount(plainSize);
}

function chunkCount(plainSize) {
  return Math.max(1, Math.ceil(plainSize / CHUNK_SIZE));
}

/** nonce_i = i (11 bytes, big-endian) || final flag (1 byte). */
function chunkNonce(counter, final) {
  const nonce = new Uint8Array(12);
  let rest = counter;
  for (let at = 10; at >= 0 && rest > 0; at--) {
    nonce[at] = rest % 256;
    rest = Math.floor(rest / 256);
  }
  nonce[11] = final ? 1 : 0;
  return nonce;
}

/**
 * One attachment's stream, chunk by chunk: `header` first, then `sealChunk` for each chunk in
 * order (65,536 bytes each, the last 1 to 65,536; a lone empty chunk for an empty file).
 */
export class AttachmentSealer {
  /** A sealer with a fresh file key sealed to the case key for attachment `index` of the tip. */
  static async create(casePublicRaw, commitment, index) {
    checkBytes('case public key', casePublicRaw, KEY_SIZE);
    const fileKey = crypto.getRandomValues(new Uint8Array(FILE_KEY_SIZE));
    try {
      const prefix = concatBytes([VERSION], keyId(casePublicRaw));
      const info = attachmentInfo(prefix, commitment, index);
      const header = concatBytes(prefix, await hpkeSeal(casePublicRaw, fileKey, info));
      return new AttachmentSealer(header, await importFileKey(fileKey));
    } finally {
      fileKey.fill(0); // the only copy left is inside the non-extractable CryptoKey
    }
  }

  constructor(header, aesKey) {
    this.header = header;
    this._key = aesKey;
    this._counter = 0;
    this._finished = false;
  }

  async sealChunk(plaintext, final) {
    checkBytes('chunk', plaintext);
    if (this._finished) {
      throw new SealError('this attachment is already sealed: its last chunk was given');
    }
    if (final ? plaintext.length > CHUNK_SIZE : plaintext.length !== CHUNK_SIZE) {
      throw new SealError(
        final
          ? `the last chunk is at most ${CHUNK_SIZE} bytes, got ${plaintext.length}`
          : `a chunk before the last is ${CHUNK_SIZE} bytes, got ${plaintext.length}`,
      );
    }
    if (final && plaintext.length === 0 && this._counter > 0) {
      throw new SealError('only an empty attachment ends in an empty chunk');
    }
    const iv = chunkNonce(this._counter, final);
    const sealed = await crypto.subtle.encrypt({ name: 'AES-GCM', iv }, this._key, plaintext);
    this._counter += 1;
    this._finished = final;
    return new Uint8Array(sealed);
  }
}

/** Attachment `info`: tag || version || case key id || commitment || index (2, big-endian). */
function attachmentInfo(prefix, commitment, index) {
  checkBytes('commitment', commitment, COMMITMENT_SIZE);
  if (!Number.isInteger(index) || index < 0 || index > MAX_ATTACHMENT_INDEX) {
    throw new SealError(`an attachment's index is 0 to ${MAX_ATTACHMENT_INDEX}, got ${index}`);
  }
  return concatBytes(ATTACHMENT_INFO, prefix, commitment, [index >> 8, index & 0xff]);
}

function importFileKey(raw) {
  return crypto.subtle.importKey('raw', raw, { name: 'AES-GCM' }, false, ['encrypt']);
}

/** The chunks (no header) of `data` under a given file key: the layer the test vectors pin. */
export async function sealChunks(fileKeyRaw, data) {
  checkBytes('file key', fileKeyRaw, FILE_KEY_SIZE);
  checkBytes('data', data);
  const sealer = new AttachmentSealer(new Uint8Array(0), await importFileKey(fileKeyRaw));
  const count = chunkCount(data.length);
  const out = [];
  for (let i = 0; i < count; i++) {
    const plain = data.subarray(i * CHUNK_SIZE, (i + 1) * CHUNK_SIZE);
    out.push(await sealer.sealChunk(plain, i === count - 1));
  }
  return concatBytes(...out);
}

/**
 * The SHA-256 (Uint8Array(32)) of a File or Blob, read in slices (never the whole file at
 * once). `onProgress(done, total)` after each slice.
 */
export async function hashFile(file, onProgress) {
  checkBlob(file);
  const hash = nobleSha256.create();
  const step = READ_BLOCKS * CHUNK_SIZE;
  for (let at = 0; at < file.size; at += step) {
    hash.update(new Uint8Array(await file.slice(at, at + step).arrayBuffer()));
    onProgress?.(Math.min(at + step, file.size), file.size);
  }
  if (file.size === 0) onProgress?.(0, 0);
  return hash.digest();
}

/**
 * Seal a File or Blob as attachment `index` of the tip `commitment`, to the case key, reading
 * it slice by slice. Returns {blob (the sealed stream), sha256 and size of the bytes sealed}.
 * With `sha256` given (from hashFile, before the commitment was made), refuses a file that
 * changed since: its stream would not match the tip document. `onProgress(done, total)` in
 * plaintext bytes.
 */
export async function sealAttachment(file, casePublicRaw, commitment, index, options = {}) {
  const { onProgress, sha256 } = options;
  checkBlob(file);
  if (sha256 !== undefined) checkBytes('expected sha256', sha256, 32);
  const sealer = await AttachmentSealer.create(casePublicRaw, commitment, index);
  const hash = nobleSha256.create();
  const size = file.size;
  const count = chunkCount(size);
  let sealedBlob = new Blob([sealer.header]);
  let pending = [];
  let pendingBytes = 0;
  let chunk = 0;
  for (let at = 0; chunk < count; at += READ_BLOCKS * CHUNK_SIZE) {
    const block = new Uint8Array(
      await file.slice(at, at + READ_BLOCKS * CHUNK_SIZE).arrayBuffer(),
    );
    if (block.length === 0 && size > 0) throw changed(file);
    for (let off = 0; off < block.length || (size === 0 && chunk === 0); off += CHUNK_SIZE) {
      const plain = block.subarray(off, off + CHUNK_SIZE);
      if (chunk < count - 1 && plain.length !== CHUNK_SIZE) throw changed(file);
      hash.update(plain);
      const sealed = await sealer.sealChunk(plain, chunk === count - 1);
      pending.push(sealed);
      pendingBytes += sealed.length;
      chunk += 1;
      if (chunk === count) break;
    }
    // Move sealed bytes out of the JS heap into Blob storage now and then.
    if (pendingBytes >= FOLD_BYTES || chunk === count) {
      sealedBlob = new Blob([sealedBlob, ...pending]);
      pending = [];
      pendingBytes = 0;
    }
    onProgress?.(Math.min(at + block.length, size), size);
  }
  const digest = hash.digest();
  if (sha256 !== undefined && !equalBytes(digest, sha256)) {
    throw changed(file);
  }
  if (sealedBlob.size !== sealedSize(size)) throw changed(file);
  return { blob: sealedBlob, sha256: digest, size };
}

// --- checks ----------------------------------------------------------------------------------

function checkBytes(name, value, size) {
  if (!(value instanceof Uint8Array)) {
    const got = value === null ? 'null' : typeof value;
    throw new SealError(`${name}: expected bytes (Uint8Array), got ${got}`);
  }
  if (size !== undefined && value.length !== size) {
    throw new SealError(`${name}: expected ${size} bytes, got ${value.length}`);
  }
}

function changed(file) {
  const name = file.name ? `"${file.name}" ` : '';
  return new SealError(`the file ${name}changed after it was chosen: choose it again`);
}

function checkBlob(file) {
  if (!(file instanceof Blob)) throw new SealError('an attachment is a File or Blob');
}

function hex(bytes) {
  return toHex(bytes).slice(2);
}
