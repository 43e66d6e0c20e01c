// The reporter's side of the follow-up API. A secret made on this device (tlf2_) never leaves it:
// requests carry only the token derived from it, the desk's questions arrive sealed and are
// opened here, and answers are sealed here to the reporter key and to the tip's key the service
// names. A secret the service made (tlf1_) is sent as it always was, and its answers are sealed
// here too. The credential goes only in the Authorization header of requests to this origin:
// never in a URL, a cookie or localStorage. Answers come back as {status, data} or a
// FollowUpError whose key names the one line to show.
//
// The cryptography is imported when first needed, so the receipt page (which only reads the
// secret from a receipt) does not load it.
//
// With the reporter's one code (reporter-code.js) the tip is found by the code's first six
// symbols (GET /v1/codes/{locator}); the code, stretched here, gives a version 2 secret for the
// same requests, and a pin: the device seals answers only to a case key whose tag checks.

import { equalBytes, fromBase64, fromHex, toBase64, toHex } from './protocol.js';

const keysModule = () => import('./followup-keys.js');
const sealModule = () => import('./seal.js');
const identityModule = () => import('./identity-seal.js');
const codeModule = () => import('./reporter-code.js');

export const SECRET_PATTERN = /^tlf[12]_[A-Za-z0-9_-]{43}$/;
export const MAX_MESSAGE = 10000;

export class FollowUpError extends Error {
  constructor(key, params = {}) {
    super(key);
    this.name = 'FollowUpError';
    this.key = key;
    this.params = params;
  }
}

/** The follow-up secret a receipt carries (`"follow_up": {"secret": "tlf…"}`), or null. */
export function receiptSecret(receipt) {
  const secret = receipt?.extra?.follow_up?.secret;
  return typeof secret === 'string' && SECRET_PATTERN.test(secret) ? secret : null;
}

/** The case key the reporter's own device sealed the tip to, as the receipt keeps it
 *  (`"follow_up": {"case_key": "0x…"}`), or null (a receipt from before, or none). */
export function receiptCaseKey(receipt) {
  const key = receipt?.extra?.follow_up?.case_key;
  try {
    return typeof key === 'string' ? fromHex(key, 32) : null;
  } catch {
    return null;
  }
}

/** The reporter's code a receipt carries (`"follow_up": {"code": "XXXX-…"}`), or null. */
export function receiptCode(receipt) {
  const code = receipt?.extra?.follow_up?.code;
  return typeof code === 'string' && /^[0-9A-Z]{4}(-[0-9A-Z]{4}){3}$/.test(code) ? code : null;
}

/** A secret as typed or pasted (spaces and line breaks dropped), or a FollowUpError. */
export function cleanSecret(text) {
  const secret = String(text ?? '').replace(/\s+/g, '');
  if (!SECRET_PATTERN.test(secret)) throw new FollowUpError('status.secret_malformed');
  return secret;
}

/**
 * The follow-up of `commitment` (0x hex) with `secret`: {commitment, version, bearer, key}, all
 * derived here. Pass it to the calls below; the secret itself is not kept in it.
 */
export async function openSession(commitment, secret, caseKey = null) {
  const { followUpKeys } = await keysModule();
  try {
    const keys = await followUpKeys(secret, fromHex(commitment, 32));
    // `caseKey` (from the receipt): answers are sealed to it and to no key the service names.
    return { commitment, caseKey, ...keys };
  } catch {
    throw new FollowUpError('status.secret_malformed');
  }
}

/**
 * The commitment of the tip whose code starts with `locator` (GET /v1/codes/{locator}, public:
 * no credential is sent), or a FollowUpError.
 */
export async function lookUpCode(locator) {
  const response = await send(`/v1/codes/${encodeURIComponent(locator)}`, { headers: { Accept: 'application/json' } });
  const data = await jsonOf(response);
  const detail = typeof data?.detail === 'string' ? data.detail : `HTTP ${response.status}`;
  if (response.status === 404) throw new FollowUpError('status.code_unknown');
  if (response.status === 429) throw new FollowUpError('status.follow_up_slow_down', { detail });
  if (!response.ok) throw new FollowUpError('status.follow_up_refused', { detail });
  try {
    return toHex(fromHex(String(data?.commitment), 32));
  } catch {
    throw new FollowUpError('status.follow_up_refused', { detail: 'unexpected answer' });
  }
}

/** One request to the service, never with cookies, a cache or a referrer. */
async function send(path, init) {
  try {
    return await fetch(path, { ...init, credentials: 'omit', cache: 'no-store', referrerPolicy: 'no-referrer' });
  } catch {
    throw new FollowUpError('status.follow_up_network');
  }
}

async function jsonOf(response) {
  try {
    return await response.json();
  } catch {
    return null; // not JSON: the status says enough
  }
}

/**
 * The follow-up of `commitment` with a stretched code (`codeKeys` of reporter-code.js): as
 * `openSession`, with the code's version 2 secret, and the code kept to check the case key.
 */
export async function codeSession(commitment, codeKeys) {
  const { followUpKeys, toBase64Url, SECRET_PREFIX_V2 } = await keysModule();
  const secret = SECRET_PREFIX_V2 + toBase64Url(codeKeys.followUp.raw);
  const keys = await followUpKeys(secret, fromHex(commitment, 32));
  return { commitment, caseKey: null, code: codeKeys, caseKeyTag: null, ...keys };
}

async function call(method, path, session, body) {
  const headers = { Accept: 'application/json', Authorization: `Bearer ${session.bearer}` };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const response = await send(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const data = await jsonOf(response);
  if (response.ok) return { status: response.status, data };
  const detail = typeof data?.detail === 'string' ? data.detail : `HTTP ${response.status}`;
  if (response.status === 401) throw new FollowUpError('status.follow_up_denied');
  if (response.status === 429) throw new FollowUpError('status.follow_up_slow_down', { detail });
  throw new FollowUpError('status.follow_up_refused', { detail });
}

/**
 * The review status and the messages of a tip, every message as text: a version 2 thread is
 * opened here with the reporter key (one that does not open is refused, never shown).
 */
export async function fetchThread(session) {
  const { commitment } = session;
  const { data } = await call('GET', `/v1/tips/${commitment}/follow-up`, session);
  if (!data || typeof data !== 'object' || !Array.isArray(data.messages)) {
    throw new FollowUpError('status.follow_up_refused', { detail: 'unexpected answer' });
  }
  if (String(data.commitment).toLowerCase() !== commitment) {
    throw new FollowUpError('status.follow_up_refused', { detail: 'answer about another tip' });
  }
  if (session.code) {
    // A code's tip is version 3: its view carries the tag that pins the case key.
    if (data.version !== 3 || typeof data.case_key_tag !== 'string') {
      throw new FollowUpError('status.follow_up_refused', { detail: 'no case key tag for this code' });
    }
    try {
      session.caseKeyTag = fromHex(data.case_key_tag, 16);
    } catch {
      throw new FollowUpError('status.follow_up_refused', { detail: 'a malformed case key tag' });
    }
  } else if (data.version !== 2) return data;
  const [{ SENDERS, openMessage }, { keyId }] = await Promise.all([keysModule(), sealModule()]);
  if (data.reporter_key_id !== toHex(keyId(session.key.publicRaw)).slice(2)) {
    throw new FollowUpError('status.follow_up_not_mine');
  }
  const entry = fromHex(commitment, 32);
  const messages = [];
  for (const m of data.messages) {
    let text;
    try {
      text = await openMessage(session.key, fromBase64(String(m.sealed)), {
        commitment: entry,
        messageId: fromHex(String(m.id), 16),
        sender: SENDERS[m.from],
      });
    } catch (exc) {
      throw new FollowUpError('status.follow_up_unopened', { detail: exc.message || String(exc) });
    }
    messages.push({ id: m.id, from: m.from, sent_at: m.sent_at, text });
  }
  return { ...data, messages };
}

/**
 * Send the reporter's answer, sealed here to the reporter key and to the key `sealTo` (the
 * thread's `seal_to`, checked: its key id must be its key's). Without `sealTo`, a version 1
 * answer goes in clear for the service to seal, where the deployment still does that.
 */
export async function sendAnswer(session, text, sealTo) {
  const path = `/v1/tips/${session.commitment}/follow-up/messages`;
  if (!sealTo) {
    if (session.version === 2) {
      throw new FollowUpError('status.follow_up_refused', { detail: 'no key to seal the answer to' });
    }
    return (await call('POST', path, session, { text })).data;
  }
  const { FROM_REPORTER, keyId, newMessageId, sealMessage } = await sealModule();
  const deskKey = fromHex(String(sealTo.key), 32);
  if (!equalBytes(keyId(deskKey), fromHex('0x' + String(sealTo.key_id), 8))) {
    throw new FollowUpError('status.follow_up_refused', { detail: 'the key to seal to is not its own' });
  }
  if (session.caseKey && !equalBytes(deskKey, session.caseKey)) {
    // The receipt names the case key this device made: another one is the service's own.
    throw new FollowUpError('status.follow_up_key_changed');
  }
  if (session.code) {
    // The tag made on the device when the tip was sealed: a key it does not check is not the
    // one the tip was sealed to, whatever the service says.
    const { checkCaseKey } = await codeModule();
    const entry = fromHex(session.commitment, 32);
    if (!(await checkCaseKey(session.code, entry, deskKey, session.caseKeyTag))) {
      throw new FollowUpError('status.code_key_not_pinned');
    }
  }
  const messageId = newMessageId();
  const fields = { commitment: fromHex(session.commitment, 32), messageId, sender: FROM_REPORTER, text };
  const body = {
    id: toHex(messageId),
    to_reporter: toBase64(await sealMessage(session.key.publicRaw, fields)),
    to_desk: toBase64(await sealMessage(deskKey, fields)),
  };
  return (await call('POST', path, session, body)).data;
}

/**
 * Give an identity after the tip was sent, sealed here for the custodians of its kind (checked
 * on chain first: identity-seal.js); the answer summarises the record. A version 1 follow-up
 * whose custodians cannot be checked here sends the identity in clear, for a deployment that
 * still seals identities itself (the service refuses it otherwise).
 */
export async function addIdentity(session, identity) {
  const path = `/v1/tips/${session.commitment}/identity`;
  const kind = identity?.role === 'witness' ? 'witness' : 'reporter';
  let record;
  try {
    const { custodianSet, sealIdentity } = await identityModule();
    const custodians = await custodianSet(kind);
    record = await sealIdentity({ identity, kind, ...custodians });
  } catch (exc) {
    if (session.version === 2) {
      throw new FollowUpError('status.identity_not_sealed', { detail: exc.message || String(exc) });
    }
    return (await call('POST', path, session, { identity })).data;
  }
  return (await call('POST', path, session, { record })).data;
}
