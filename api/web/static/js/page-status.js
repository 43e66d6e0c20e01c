// Check a tip's status and follow it up. With a receipt, only its commitment is sent to the
// service: once anchored, the inclusion is merged into the receipt here and checked in the
// browser, and the updated receipt can be downloaded or verified. With the follow-up secret
// (from the receipt, or typed with the commitment), the page shows the review status and the
// reviewers' questions, sends the reporter's answers, and can add an identity later. A secret
// made on the device (tlf2_) never leaves this page: only the token derived from it goes in the
// Authorization header, the questions are opened here and the answers and identities are sealed
// here (followup.js). What the page keeps is in its memory only, never in storage.
//
// The reporter's one code comes first: read here (a mistyped code is refused before any request),
// its tip found by its first six symbols, stretched here (Argon2id, progress shown), then the
// same follow-up with the token it gives; answers go only to a case key whose tag the code
// checks. With the code and their copy of the tip, the reporter gets their receipt back
// (receipt-recovery.js). The receipt file and the older secret stay, behind "older ways".

import {
  FollowUpError,
  MAX_MESSAGE,
  addIdentity,
  cleanSecret,
  codeSession,
  fetchThread,
  lookUpCode,
  openSession,
  receiptCaseKey,
  receiptCode,
  receiptSecret,
  sendAnswer,
} from './followup.js';
import { formatTime, initI18n, setText } from './i18n.js';
import { CodeError, codeKeys, parseCode } from './reporter-code.js';
import { authorFromText, recoverReceipt } from './receipt-recovery.js';
import {
  clearIdentityForm,
  identityAnswer,
  isIdentitySummary,
  renderIdentitySummary,
  setupIdentityForm,
} from './identity.js';
import { fromHex, toBase64, toHex, wellFormedText } from './protocol.js';
import { parseReceipt, receiptToJSON, withInclusion } from './receipt.js';
import { $, download, h, loadSession, readFileBytes, saveSession, show, showError, webConfig } from './ui.js';
import { verifyOffline } from './verify.js';

export const HANDOFF_KEY = 'tipledger.verify-receipt';
const REFRESH_MS = 60_000;
const REVIEW_STATES = {
  under_review: 'pending',
  substantiated: 'anchored',
  unsubstantiated: 'anchored',
  referred: 'anchored',
  closed: 'anchored',
};

let config = { features: {} };
let current = null; // {receipt, key, params}: the anchoring status of a receipt
let thread = null; // {commitment, session, data}: the follow-up, while this page is open
let refreshTimer = null;
let signedIn = null; // {commitment, keys}: the tip the code opened, and the stretched code
let recovered = null; // the receipt given back from the code and the document
const DOCUMENT_DIFFERS = new Set(['status.code_document_differs', 'status.code_document_or_author_differs']);

// --- anchoring status --------------------------------------------------------------------------

function render() {
  renderStatus();
  renderThread();
}

function renderStatus() {
  if (!current) return;
  const { key, params } = current;
  const box = $('status-result');
  // anchored_plain (looked up with the secret alone, no receipt) is the same success
  const state = key === 'anchored_plain' ? 'anchored' : key;
  box.className = `state ${state === 'anchored' || state === 'pending' ? state : 'failed'}`;
  const received = current.receipt?.promise ? formatTime(current.receipt.promise.received_at) : '—';
  const text = {
    anchored: ['status.anchored', { time: formatTime(current.receipt?.inclusion?.block_timestamp ?? 0) }],
    anchored_plain: ['status.anchored_plain'],
    pending: current.receipt ? ['status.pending', { received }] : ['status.pending_plain'],
    unknown: ['status.unknown'],
    error: ['status.error', params],
  }[key];
  setText($('status-text'), ...text);
  box.dataset.state = state;
  show(box);
  const withReceipt = Boolean(current.receipt);
  show($('status-download'), withReceipt && key === 'anchored');
  show($('status-verify'), withReceipt && (key === 'anchored' || key === 'pending'));
}

async function anchoring(receipt) {
  let response;
  try {
    response = await fetch(`/v1/tips/${receipt.commitment}/receipt`, {
      credentials: 'omit',
      cache: 'no-store',
      headers: { Accept: 'application/json' },
    });
  } catch (exc) {
    return { receipt, key: 'error', params: { detail: exc.message } };
  }
  if (response.status === 404) return { receipt, key: 'unknown' };
  if (response.status === 202) return { receipt, key: 'pending' };
  if (!response.ok) return { receipt, key: 'error', params: { detail: `HTTP ${response.status}` } };
  try {
    const merged = withInclusion(receipt, await response.json());
    const checks = await verifyOffline(merged, null);
    const bad = checks.find((c) => !c.ok);
    if (bad) throw new Error(`${bad.name}: ${bad.code}`);
    return { receipt: merged, key: merged.inclusion ? 'anchored' : 'pending' };
  } catch (exc) {
    return { receipt, key: 'error', params: { detail: exc.message } };
  }
}

// --- the follow-up -----------------------------------------------------------------------------

function followUpOn() {
  return config.features?.follow_up === true;
}

function renderThread() {
  if (!thread) return;
  const { data } = thread;
  const review = data.review;
  const box = $('review-state');
  if (review && typeof review.status_name === 'string' && review.status_name in REVIEW_STATES) {
    box.className = `state ${REVIEW_STATES[review.status_name]}`;
    box.dataset.review = review.status_name;
    setText($('review-title'), `review.${review.status_name}`);
    setText($('review-text'), `review.${review.status_name}_text`, {
      time: formatTime(review.recorded_at ?? 0),
    });
  } else {
    box.className = 'state pending';
    box.dataset.review = 'none';
    setText($('review-title'), 'review.none');
    setText($('review-text'), 'review.none_text');
  }

  const list = $('messages');
  list.replaceChildren();
  for (const message of data.messages) {
    const mine = message.from === 'reporter';
    list.append(
      h(
        'li',
        {
          className: `message ${mine ? 'from-reporter' : 'from-reviewer'}`,
          'data-from': mine ? 'reporter' : 'reviewer',
          'data-id': String(message.id ?? ''),
        },
        h(
          'p',
          { className: 'message-meta' },
          h('span', { className: 'message-from', i18n: [mine ? 'status.from_reporter' : 'status.from_reviewer'] }),
          ' · ',
          h('time', {}, formatTime(message.sent_at ?? 0)),
        ),
        h('p', { className: 'message-text' }, String(message.text ?? '')),
      ),
    );
  }
  show($('messages-empty'), data.messages.length === 0);
  document.body.dataset.followUp = 'open';
  document.body.dataset.messages = String(data.messages.length);
}

function scheduleRefresh() {
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(async () => {
    if (thread && document.visibilityState === 'visible') await refresh({ quiet: true });
    scheduleRefresh();
  }, REFRESH_MS);
}

async function refresh({ quiet = false } = {}) {
  if (!thread) return;
  try {
    thread.data = await fetchThread(thread.session);
    renderThread();
    if (!quiet) setText($('reply-status'), 'status.refreshed');
  } catch (exc) {
    if (!quiet) followUpFailed(exc, $('reply-status'));
  }
}

function clearText(el) {
  delete el.dataset.i18n;
  delete el.dataset.i18nParams;
  el.textContent = '';
}

function followUpFailed(exc, where) {
  if (exc instanceof FollowUpError) setText(where, exc.key, exc.params);
  else setText(where, 'status.follow_up_refused', { detail: exc.message || String(exc) });
}

async function openThread(commitment, secret, caseKey = null) {
  return openThreadWith(await openSession(commitment, secret, caseKey));
}

async function openThreadWith(session) {
  const { commitment } = session;
  const data = await fetchThread(session);
  thread = { commitment, session, data };
  renderThread();
  clearText($('reply-status'));
  show($('follow-up-view'));
  show($('identity-later'), setupIdentityForm(config).length > 0);
  scheduleRefresh();
  return data;
}

async function reply(event) {
  event.preventDefault();
  if (!thread) return;
  const status = $('reply-status');
  const text = wellFormedText($('reply-text').value).trim();
  if (!text) {
    setText(status, 'status.reply_empty');
    $('reply-text').focus();
    return;
  }
  if (text.length > MAX_MESSAGE) {
    setText(status, 'status.reply_too_long', { max: MAX_MESSAGE });
    return;
  }
  const button = $('reply-button');
  button.disabled = true;
  setText(status, 'status.reply_sending');
  try {
    await sendAnswer(thread.session, text, thread.data.seal_to);
    $('reply-text').value = '';
    await refresh({ quiet: true });
    setText(status, 'status.reply_sent');
  } catch (exc) {
    followUpFailed(exc, status);
  } finally {
    button.disabled = false;
  }
}

async function giveIdentity(event) {
  event.preventDefault();
  if (!thread) return;
  const result = $('identity-result');
  result.replaceChildren();
  delete result.dataset.kind;
  const identity = identityAnswer();
  if (!identity) {
    result.append(h('p', { i18n: ['status.identity_empty'] }));
    return;
  }
  const button = $('identity-button');
  button.disabled = true;
  try {
    const summary = await addIdentity(thread.session, identity);
    clearIdentityForm();
    if (!isIdentitySummary(summary)) throw new FollowUpError('status.follow_up_refused', { detail: 'unexpected answer' });
    const text = h('p', { className: 'identity-done' });
    const record = h('p', { className: 'mono small' });
    renderIdentitySummary(text, record, summary);
    result.append(text, record);
    result.dataset.kind = summary.kind;
  } catch (exc) {
    const line = h('p', {});
    followUpFailed(exc, line);
    result.append(line);
  } finally {
    button.disabled = false;
  }
}

// --- the reporter's code ----------------------------------------------------------------------

function resetFollowUp() {
  show($('follow-up-view'), false);
  show($('recover-view'), false);
  thread = null;
  signedIn = null;
  recovered = null;
  clearTimeout(refreshTimer);
  delete document.body.dataset.followUp;
  delete document.body.dataset.recovered;
}

/** A code that does not read: said above the field, which gets aria-invalid and focus. */
function codeFieldError(key, params) {
  const field = $('status-code');
  const message = $('code-error');
  setText(message, key, params);
  show(message);
  field.setAttribute('aria-invalid', 'true');
  field.setAttribute('aria-describedby', 'code-error code-hint');
  message.scrollIntoView({ block: 'center' });
  field.focus({ preventScroll: true });
}

function clearCodeError() {
  const field = $('status-code');
  field.removeAttribute('aria-invalid');
  field.setAttribute('aria-describedby', 'code-hint');
  show($('code-error'), false);
}

function codeProgress(key, percent) {
  show($('code-progress-box'), key !== null);
  if (key === null) return;
  setText($('code-progress-text'), key, { percent });
  const bar = $('code-progress');
  if (percent === undefined) bar.removeAttribute('value');
  else bar.value = percent;
}

/** Sign in with the code typed: find its tip, stretch the code, open the follow-up. */
async function signInWithCode(event, { keepStatus = false } = {}) {
  event?.preventDefault();
  const errorBox = $('status-error');
  errorBox.hidden = true;
  if (!keepStatus) show($('status-result'), false);
  resetFollowUp();
  let code;
  try {
    code = parseCode($('status-code').value);
  } catch (exc) {
    if (!(exc instanceof CodeError)) throw exc;
    codeFieldError(exc.key, exc.params);
    return;
  }
  clearCodeError();
  $('status-code').value = code.text; // as written on the receipt page: four groups
  if (!followUpOn()) {
    showError(errorBox, 'status.follow_up_unavailable');
    return;
  }
  const button = $('code-button');
  button.disabled = true;
  try {
    codeProgress('status.code_finding');
    const commitment = await lookUpCode(code.locator);
    codeProgress('status.code_stretching', 0);
    const keys = await codeKeys(code, {
      onProgress: (fraction) => codeProgress('status.code_stretching', Math.floor(100 * fraction)),
    });
    codeProgress('status.code_opening');
    const data = await openThreadWith(await codeSession(commitment, keys));
    signedIn = { commitment, keys };
    if (!keepStatus) {
      current = { receipt: null, key: data.anchored ? 'anchored_plain' : 'pending' };
      renderStatus();
    }
    show($('recover-view'));
    document.body.dataset.signedIn = 'code';
    $('follow-up-view').focus(); // brings the thread into view, and tells screen readers
  } catch (exc) {
    // A 401 here: the locator found a tip, the rest of the code is not its own.
    if (exc instanceof FollowUpError && exc.key === 'status.follow_up_denied') showError(errorBox, 'status.code_denied');
    else if (exc instanceof FollowUpError) showError(errorBox, exc.key, exc.params);
    else showError(errorBox, 'status.follow_up_refused', { detail: exc.message || String(exc) });
  } finally {
    codeProgress(null);
    button.disabled = false;
    document.body.dataset.checked = String(Number(document.body.dataset.checked || 0) + 1);
  }
}

/** The receipt given back from the code and the reporter's copy of the tip document. */
async function recover(event) {
  event.preventDefault();
  if (!signedIn) return;
  const errorBox = $('recover-error');
  errorBox.hidden = true;
  show($('recover-result'), false);
  const file = $('recover-document').files[0];
  if (!file) {
    showError(errorBox, 'status.code_recover_no_document');
    return;
  }
  const button = $('recover-button');
  button.disabled = true;
  try {
    const tipDocument = await readFileBytes(file);
    const author = authorFromText($('recover-author').value);
    const { receipt, anchored } = await recoverReceipt({ ...signedIn, document: tipDocument, author });
    recovered = { receipt, document: tipDocument };
    // The verify page of this tab picks the receipt and the document up from the session, as
    // after sending; nothing leaves the browser.
    saveSession({
      receipt: receiptToJSON(receipt),
      document: toBase64(tipDocument),
      code: signedIn.keys.code.text,
      saved: true,
    });
    setText(
      $('recover-text'),
      anchored ? 'status.code_recovered' : 'status.code_recovered_pending',
      { time: formatTime(receipt.inclusion?.block_timestamp ?? receipt.promise?.received_at ?? 0) },
    );
    show($('recover-result'));
    document.body.dataset.recovered = anchored ? 'anchored' : 'pending';
  } catch (exc) {
    if (exc instanceof FollowUpError && DOCUMENT_DIFFERS.has(exc.key)) {
      show($('recover-author-field')); // perhaps signed with a one-time key: its address helps
    }
    if (exc instanceof FollowUpError) showError(errorBox, exc.key, exc.params);
    else showError(errorBox, 'status.follow_up_refused', { detail: exc.message || String(exc) });
  } finally {
    button.disabled = false;
  }
}

// --- the form ----------------------------------------------------------------------------------

/** The receipt (if pasted), the commitment and the secret (if any) the form holds. */
function readForm() {
  const text = $('status-receipt').value.trim();
  let receipt = null;
  let commitment = null;
  if (text) {
    try {
      receipt = parseReceipt(text);
    } catch (exc) {
      throw new FollowUpError('status.bad_receipt', { detail: exc.message });
    }
    commitment = receipt.commitment;
  }
  const typedCommitment = $('status-commitment').value.trim();
  if (!receipt && typedCommitment) {
    try {
      commitment = toHex(fromHex(typedCommitment, 32));
    } catch (exc) {
      throw new FollowUpError('status.bad_commitment', { detail: exc.message });
    }
  }
  if (!commitment) throw new FollowUpError(followUpOn() ? 'status.nothing_given' : 'status.no_receipt');
  const code = receipt && followUpOn() ? receiptCode(receipt) : null;
  if (code) return { receipt, commitment, secret: null, code };
  const typedSecret = $('status-secret').value;
  let secret = receipt ? receiptSecret(receipt) : null;
  if (!secret && typedSecret.trim()) secret = cleanSecret(typedSecret);
  if (!receipt && !secret) throw new FollowUpError('status.secret_needed');
  return { receipt, commitment, secret };
}

async function check(event) {
  event?.preventDefault();
  const errorBox = $('status-error');
  errorBox.hidden = true;
  show($('status-result'), false);
  resetFollowUp();
  let form;
  try {
    form = readForm();
  } catch (exc) {
    showError(errorBox, exc.key ?? 'status.error', exc.params ?? { detail: String(exc) });
    return;
  }
  const button = $('status-button');
  button.disabled = true;
  try {
    if (form.receipt) {
      current = await anchoring(form.receipt);
      // The verify page picks the receipt up from here; the secret is not needed there.
      sessionStorage.setItem(HANDOFF_KEY, receiptToJSON(current.receipt, { extras: false }));
      renderStatus();
    }
    if (form.code) {
      // A receipt from a code: the code opens the follow-up, as if typed.
      $('status-code').value = form.code;
      await signInWithCode(null, { keepStatus: true });
    }
    if (form.secret && followUpOn()) {
      try {
        const pinned = form.receipt ? receiptCaseKey(form.receipt) : null;
        const data = await openThread(form.commitment, form.secret, pinned);
        if (!form.receipt) {
          current = { receipt: null, key: data.anchored ? 'anchored_plain' : 'pending' };
          renderStatus();
        }
        $('follow-up-view').focus(); // brings the thread into view, and tells screen readers
      } catch (exc) {
        if (exc instanceof FollowUpError) showError(errorBox, exc.key, exc.params);
        else showError(errorBox, 'status.follow_up_refused', { detail: exc.message || String(exc) });
      }
    }
  } finally {
    button.disabled = false;
  }
  document.body.dataset.checked = String(Number(document.body.dataset.checked || 0) + 1);
}

async function main() {
  await initI18n();
  try {
    config = await webConfig();
  } catch {
    config = { features: {} };
  }
  show($('secret-fieldset'), followUpOn());
  show($('follow-up-off'), !followUpOn());
  $('status-file').addEventListener('change', async (event) => {
    const file = event.target.files[0];
    if (file) $('status-receipt').value = await file.text();
  });
  $('show-secret').addEventListener('change', (event) => {
    $('status-secret').type = event.target.checked ? 'text' : 'password';
  });
  $('status-form').addEventListener('submit', check);
  $('code-form').addEventListener('submit', signInWithCode);
  $('status-code').addEventListener('input', () => {
    if ($('status-code').getAttribute('aria-invalid') === 'true') clearCodeError();
  });
  $('recover-form').addEventListener('submit', recover);
  $('recover-document-button').addEventListener('click', () => $('recover-document').click());
  $('recover-document').addEventListener('change', (event) => {
    const file = event.target.files[0];
    if (file) setText($('recover-document-name'), 'status.code_recover_chosen', { name: file.name });
  });
  $('recover-download').addEventListener('click', () => {
    if (recovered) download(`receipt-${recovered.receipt.commitment.slice(2, 10)}.json`, receiptToJSON(recovered.receipt) + '\n');
  });
  $('reply-form').addEventListener('submit', reply);
  $('refresh-button').addEventListener('click', () => refresh());
  $('identity-form').addEventListener('submit', giveIdentity);
  $('status-download').addEventListener('click', () => {
    if (current?.receipt) {
      const name = `receipt-${current.receipt.commitment.slice(2, 10)}.json`;
      download(name, receiptToJSON(current.receipt) + '\n');
    }
  });
  document.addEventListener('tipledger:lang', render);
  // The tip sent from this tab: its receipt (with the secret) is filled in, and checked at once
  // when the receipt page sent the reporter here to follow it up.
  const session = loadSession();
  if (session?.receipt) $('status-receipt').value = session.receipt;
  if (typeof session?.code === 'string' && followUpOn()) {
    // The tab that sent the tip: its code signs in, as typed.
    $('status-code').value = session.code;
    if (location.hash === '#follow-up') await signInWithCode(null);
  } else if (session?.receipt) {
    $('older-ways').open = true;
    if (location.hash === '#follow-up') await check();
  }
  document.body.dataset.ready = 'true';
}

main();
