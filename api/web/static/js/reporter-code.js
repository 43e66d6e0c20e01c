// The reporter's one code (PROTOCOL.md 17.8), byte for byte ledger/core/reporter_code.py: sixteen
// symbols "XXXX-XXXX-XXXX-XXXX" that stand for the follow-up secret, the tip's salt (so, with the
// reporter's copy of the tip, its commitment and receipt) and the pin on the case key.
//
// The check symbol uses the vendored SHA-256 (sync, so a typed code is refused as it is read);
// HKDF, HMAC are WebCrypto's. Argon2id (t=3, 64 MiB, p=1) is @noble/hashes' argon2idAsync, which
// yields to the page as it works; its module is fetched only when a code is first stretched.
//
// Frozen like its Python twin: tests/e2e/test_js_reporter_code.py holds the two equal.

import { sha256 as sha256Sync } from '../vendor/noble-hashes/sha2.js';
import { equalBytes, toHex, utf8 } from './protocol.js';

export const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
export const CODE_SYMBOLS = 16;
export const LOCATOR_SYMBOLS = 6;
export const ARGON2 = Object.freeze({ t: 3, m: 65536, p: 1, dkLen: 32, version: 0x13 });
export const CODE_ENROLMENT_VERSION = 3;
export const CASE_KEY_TAG_SIZE = 16;

const DATA_SYMBOLS = CODE_SYMBOLS - 1;
const CHECK_TAG = utf8('tipledger/v3/code/check');
const KDF_SALT_TAG = utf8('tipledger/v3/code/kdf-salt');
const FOLLOW_UP_INFO = utf8('tipledger/v3/code/follow-up');
const SALT_INFO = utf8('tipledger/v3/code/salt');
const PIN_INFO = utf8('tipledger/v3/code/case-key-pin');
const CASE_KEY_TAG = utf8('tipledger/v3/case-key');
const READ_AS = { O: '0', I: '1', L: '1' };
const LOCATOR = new RegExp(`^[${ALPHABET}]{${LOCATOR_SYMBOLS}}$`);

/** A code that cannot be read: `key` is the i18n key of the one line to show, `params` its
 *  values; `message` is the English line, as Python's ProtocolError says it. */
export class CodeError extends Error {
  constructor(key, params, message) {
    super(message);
    this.name = 'CodeError';
    this.key = key;
    this.params = params;
  }
}

function checkSymbol(data) {
  return ALPHABET[sha256Sync(concat(CHECK_TAG, utf8(data)))[0] >> 3];
}

function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function reporterCode(symbols) {
  const groups = [];
  for (let i = 0; i < CODE_SYMBOLS; i += 4) groups.push(symbols.slice(i, i + 4));
  return Object.freeze({ symbols, locator: symbols.slice(0, LOCATOR_SYMBOLS), text: groups.join('-') });
}

/** A fresh code from the browser's CSPRNG: {symbols, locator, text}. */
export function newCode() {
  // 256 is a multiple of 32: the low five bits of a random byte are uniform.
  const bytes = crypto.getRandomValues(new Uint8Array(DATA_SYMBOLS));
  const data = Array.from(bytes, (b) => ALPHABET[b & 31]).join('');
  return reporterCode(data + checkSymbol(data));
}

/** The code written in `text` ({symbols, locator, text}), or a CodeError saying what is wrong. */
export function parseCode(text) {
  if (typeof text !== 'string') {
    throw new CodeError('code.error_not_text', {}, 'the code is text: 16 letters and digits');
  }
  const symbols = text
    .replace(/[\s-]+/g, '')
    .toUpperCase()
    .replace(/[OIL]/g, (c) => READ_AS[c]);
  const chars = [...symbols]; // by code point, as Python counts
  const length = chars.length;
  if (length !== CODE_SYMBOLS) {
    throw new CodeError(
      'code.error_length',
      { length },
      `the code has ${CODE_SYMBOLS} letters and digits, this has ${length}`,
    );
  }
  for (let i = 0; i < CODE_SYMBOLS; i++) {
    const symbol = chars[i];
    if (!ALPHABET.includes(symbol)) {
      throw new CodeError(
        'code.error_symbol',
        { position: i + 1, symbol },
        `symbol ${i + 1} of the code, '${symbol}', is not used in codes ` +
          '(they use 0-9 and A-Z without I, L, O and U)',
      );
    }
  }
  if (checkSymbol(symbols.slice(0, DATA_SYMBOLS)) !== symbols[DATA_SYMBOLS]) {
    throw new CodeError(
      'code.error_check',
      {},
      'this code does not check out: a letter or digit is probably mistyped; ' +
        'compare it with what you wrote down',
    );
  }
  return reporterCode(symbols);
}

/** Whether `text` is a locator as the service takes it (6 canonical symbols). */
export function isLocator(text) {
  return typeof text === 'string' && LOCATOR.test(text);
}

// --- stretching --------------------------------------------------------------------------------

let argon2Module = null;

/** The Argon2 module, fetched once (it is not needed until a code is stretched). */
export function loadArgon2() {
  argon2Module ??= import('../vendor/noble-hashes/argon2.js').catch((exc) => {
    argon2Module = null; // fetched again next time (the connection may be back)
    throw exc;
  });
  return argon2Module;
}

async function hkdf(ikm, info) {
  const key = await crypto.subtle.importKey('raw', ikm, 'HKDF', false, ['deriveBits']);
  // An empty salt is HKDF's "no salt" (a key of zeros, RFC 5869 2.2), as Python's salt=None.
  const bits = await crypto.subtle.deriveBits({ name: 'HKDF', hash: 'SHA-256', salt: new Uint8Array(0), info }, key, 256);
  return new Uint8Array(bits);
}

/**
 * What `code` stretches to: {code, followUp: {raw, version: 2}, salt, pinKey} (the follow-up
 * secret's raw 32 bytes, the commitment's salt, the case key pin's key). One Argon2id, about a
 * second on a desktop; `onProgress(fraction)` is called as it goes, and the page stays usable.
 */
export async function codeKeys(code, { onProgress } = {}) {
  const { argon2idAsync } = await loadArgon2();
  const password = utf8(code.symbols.slice(0, DATA_SYMBOLS));
  const kdfSalt = new Uint8Array(
    await crypto.subtle.digest('SHA-256', concat(KDF_SALT_TAG, utf8(code.locator))),
  ).slice(0, 16);
  const stretched = await argon2idAsync(password, kdfSalt, { ...ARGON2, onProgress, asyncTick: 20 });
  const [followUp, salt, pinKey] = await Promise.all([
    hkdf(stretched, FOLLOW_UP_INFO),
    hkdf(stretched, SALT_INFO),
    hkdf(stretched, PIN_INFO),
  ]);
  stretched.fill(0);
  return Object.freeze({ code, followUp: Object.freeze({ raw: followUp, version: 2 }), salt, pinKey });
}

// --- the case key pin --------------------------------------------------------------------------

function checkBytes(name, value, size) {
  if (!(value instanceof Uint8Array) || value.length !== size) {
    throw new CodeError('code.error_bytes', { name, size }, `${name}: expected ${size} bytes`);
  }
}

/** The 16-byte tag that pins `caseKey` (raw X25519 public key, 32) to this code and tip. */
export async function caseKeyTag(keys, commitment, caseKey) {
  checkBytes('commitment', commitment, 32);
  checkBytes('case key', caseKey, 32);
  const key = await crypto.subtle.importKey('raw', keys.pinKey, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  const mac = await crypto.subtle.sign('HMAC', key, concat(CASE_KEY_TAG, commitment, caseKey));
  return new Uint8Array(mac).slice(0, CASE_KEY_TAG_SIZE);
}

/** Whether `caseKey` is the key this code's tip was sealed to (its tag is `tag`). */
export async function checkCaseKey(keys, commitment, caseKey, tag) {
  if (!(tag instanceof Uint8Array) || tag.length !== CASE_KEY_TAG_SIZE) return false;
  return equalBytes(await caseKeyTag(keys, commitment, caseKey), tag);
}

/**
 * The sealed tip's `follow_up` for a code (version 3): the locator, the version 2 reporter key
 * and verifier of the code's follow-up secret, and the tag over the case key sealed to.
 */
export async function codeEnrolment(keys, commitment, caseKey) {
  const { enrolment } = await import('./followup-keys.js');
  const device = await enrolment(keys.followUp.raw, commitment);
  return {
    version: CODE_ENROLMENT_VERSION,
    locator: keys.code.locator,
    reporter_key: device.reporter_key,
    verifier: device.verifier,
    case_key_tag: toHex(await caseKeyTag(keys, commitment, caseKey)),
  };
}
