// A receipt given back from the reporter's code and their own copy of the tip document: the code's
// salt with the document's digest (and the author, zero unless the tip was signed with a one-time
// key) must give the commitment the code found; the service then gives the promise and the
// inclusion it holds for it (GET /v1/tips/{commitment}/receipt), and the page writes a whole
// tipledger-receipt/1 receipt, checked here before it is offered. Nothing is sent but the
// commitment, which is public.

import { FollowUpError } from './followup.js';
import { ZERO_AUTHOR, commitment as commitmentOf, contentDigest, toHex } from './protocol.js';
import { FORMAT, receiptFromObject } from './receipt.js';
import { verifyOffline } from './verify.js';
import { addressBytes } from './eth.js';

/** The author's 20 bytes from an address typed by the reporter (empty: none), or a FollowUpError. */
export function authorFromText(text) {
  const typed = String(text ?? '').trim();
  if (!typed) return ZERO_AUTHOR;
  try {
    return addressBytes(typed);
  } catch (exc) {
    throw new FollowUpError('status.code_author_bad', { detail: exc.message });
  }
}

/**
 * The receipt of `commitment` (0x hex, as the code found it) rebuilt from `keys` (the stretched
 * code), `document` (bytes) and `author` (20 bytes): {receipt, anchored}. FollowUpError when the
 * document is not the one sent with this code, or the service has no whole answer.
 */
export async function recoverReceipt({ keys, commitment, document, author = ZERO_AUTHOR }) {
  const digest = await contentDigest(document);
  const mine = toHex(await commitmentOf(keys.salt, digest, author));
  if (mine !== commitment) {
    throw new FollowUpError(
      author === ZERO_AUTHOR ? 'status.code_document_differs' : 'status.code_document_or_author_differs',
    );
  }
  let response;
  try {
    response = await fetch(`/v1/tips/${commitment}/receipt`, {
      credentials: 'omit',
      cache: 'no-store',
      headers: { Accept: 'application/json' },
    });
  } catch {
    throw new FollowUpError('status.follow_up_network');
  }
  if (response.status === 404) throw new FollowUpError('status.code_unknown');
  if (!response.ok) {
    throw new FollowUpError('status.follow_up_refused', { detail: `HTTP ${response.status}` });
  }
  let receipt;
  try {
    const answer = await response.json();
    if (String(answer.commitment).toLowerCase() !== commitment) throw new Error('an answer about another tip');
    receipt = receiptFromObject({
      format: FORMAT,
      chain_id: answer.chain_id,
      contract: answer.contract,
      commitment,
      salt: toHex(keys.salt),
      content_digest: toHex(digest),
      author: toHex(author),
      promise: answer.promise ?? null,
      inclusion: answer.inclusion ?? null,
    });
  } catch (exc) {
    throw new FollowUpError('status.follow_up_refused', { detail: exc.message || String(exc) });
  }
  // The code travels with the receipt, as in the one the submit page gave.
  receipt.extra = { follow_up: { code: keys.code.text } };
  const checks = await verifyOffline(receipt, document);
  const bad = checks.find((c) => !c.ok);
  if (bad) throw new FollowUpError('status.follow_up_refused', { detail: `${bad.name}: ${bad.code}` });
  return { receipt, anchored: receipt.inclusion !== null };
}
