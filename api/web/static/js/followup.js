// The reporter's side of the follow-up API. The secret goes only in the Authorization header of
// requests to this origin: never in a URL (it would end up in logs and history), never in a
// cookie, never in localStorage. Answers come back as {status, data} or a FollowUpError whose
// key names the one line to show.

export const SECRET_PATTERN = /^tlf1_[A-Za-z0-9_-]{16,200}$/;
export const MAX_MESSAGE = 10000;

export class FollowUpError extends Error {
  constructor(key, params = {}) {
    super(key);
    this.name = 'FollowUpError';
    this.key = key;
    this.params = params;
  }
}

/** The follow-up secret a receipt carries (`"follow_up": {"secret": "tlf1_…"}`), or null. */
export function receiptSecret(receipt) {
  const secret = receipt?.extra?.follow_up?.secret;
  return typeof secret === 'string' && SECRET_PATTERN.test(secret) ? secret : null;
}

/** A secret as typed or pasted (spaces and line breaks dropped), or a FollowUpError. */
export function cleanSecret(text) {
  const secret = String(text ?? '').replace(/\s+/g, '');
  if (!SECRET_PATTERN.test(secret)) throw new FollowUpError('status.secret_malformed');
  return secret;
}

async function call(method, path, secret, body) {
  const headers = { Accept: 'application/json', Authorization: `Bearer ${secret}` };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'omit',
      cache: 'no-store',
      referrerPolicy: 'no-referrer',
    });
  } catch {
    throw new FollowUpError('status.follow_up_network');
  }
  let data = null;
  try {
    data = await response.json();
  } catch {
    // not JSON: the status says enough
  }
  if (response.ok) return { status: response.status, data };
  const detail = typeof data?.detail === 'string' ? data.detail : `HTTP ${response.status}`;
  if (response.status === 401) throw new FollowUpError('status.follow_up_denied');
  if (response.status === 429) throw new FollowUpError('status.follow_up_slow_down', { detail });
  throw new FollowUpError('status.follow_up_refused', { detail });
}

/** The review status and the messages of a tip. */
export async function fetchThread(commitment, secret) {
  const { data } = await call('GET', `/v1/tips/${commitment}/follow-up`, secret);
  if (!data || typeof data !== 'object' || !Array.isArray(data.messages)) {
    throw new FollowUpError('status.follow_up_refused', { detail: 'unexpected answer' });
  }
  if (String(data.commitment).toLowerCase() !== commitment) {
    throw new FollowUpError('status.follow_up_refused', { detail: 'answer about another tip' });
  }
  return data;
}

/** Send the reporter's answer; the service seals it for the review desk as it arrives. */
export async function sendAnswer(commitment, secret, text) {
  const { data } = await call('POST', `/v1/tips/${commitment}/follow-up/messages`, secret, { text });
  return data;
}

/** Give an identity after the tip was sent; the answer summarises the sealed record. */
export async function addIdentity(commitment, secret, identity) {
  const { data } = await call('POST', `/v1/tips/${commitment}/identity`, secret, { identity });
  return data;
}
