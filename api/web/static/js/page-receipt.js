// The receipt of the tip sent from this tab: keep it (downloads, QR code), and watch it until it
// is anchored. The inclusion the service returns is merged into the receipt held here (the
// service never sees the salt again) and checked in the browser before it is shown as recorded.
// The follow-up secret, when the service gave one, is shown with advice, kept in the downloaded
// receipt (`"follow_up": {"secret": …}`) and in the QR code when it fits. The agency the tip went
// to is named as the submit page knew it (the receipt itself does not say: routing is private).
// A tip sent with the reporter's one code shows the code, large and in four groups, with what to
// do with it; the receipt file (which holds it too) and the document stay as optional extras, and
// closing the tab asks first until the reporter says they wrote the code down (or copied it).

import { encodeQR } from '../vendor/qr/index.js';
import { agencyName } from './agencies.js';
import { formatTime, initI18n, pageUrl, setPhrases, setText, t } from './i18n.js';
import { receiptCode, receiptSecret } from './followup.js';
import { isIdentitySummary, renderIdentitySummary } from './identity.js';
import { fromBase64, parseTipDocument } from './protocol.js';
import { compactReceiptJSON, parseReceipt, receiptToJSON, withInclusion } from './receipt.js';
import { $, clearSession, download, h, loadSession, saveSession, show } from './ui.js';
import { verifyOffline } from './verify.js';

const POLL_FAST_MS = 1500;
const POLL_SLOW_MS = 6000;
const FAST_POLLS = 40;

let session = null;
let receipt = null;
let documentBytes = null;
let polls = 0;
let stopped = false;
let stateView = { key: 'pending' };

function shortName() {
  return receipt.commitment.slice(2, 10);
}

function renderState() {
  const box = $('state');
  const { key, params } = stateView;
  box.className = `state ${key === 'anchored' ? 'anchored' : key === 'pending' || key === 'retrying' ? 'pending' : 'failed'}`;
  const titles = {
    pending: 'receipt.state_pending',
    retrying: 'receipt.state_pending',
    anchored: 'receipt.state_anchored',
    unknown: 'receipt.state_unknown',
    failed: 'receipt.state_failed',
  };
  setText($('state-title'), titles[key]);
  const texts = {
    pending: ['receipt.state_pending_text'],
    retrying: ['receipt.state_retrying'],
    anchored: ['receipt.state_anchored_text', { time: formatTime(receipt.inclusion?.block_timestamp ?? 0) }],
    unknown: ['receipt.state_unknown_text'],
    failed: ['receipt.proof_bad'],
  };
  setText($('state-text'), ...texts[key]);
  box.dataset.state = key;
  document.body.dataset.receiptState = key;
  if (params) box.dataset.params = JSON.stringify(params);
}

function renderFacts() {
  $('commitment').textContent = receipt.commitment;
  const agency = session.agency;
  const known = typeof agency?.id === 'string';
  if (known) setPhrases($('agency-name'), agencyName(agency));
  show($('agency-term'), known);
  show($('agency-name'), known);
  $('received-at').textContent = receipt.promise ? formatTime(receipt.promise.received_at) : '—';
  const inc = receipt.inclusion;
  const anchored = $('anchored-at');
  if (inc) {
    anchored.textContent = formatTime(inc.block_timestamp);
    anchored.append(document.createElement('br'));
    const where = document.createElement('span');
    where.className = 'hint';
    setText(where, 'receipt.position', {
      index: String(inc.leaf_index + 1n),
      size: String(inc.tree_size),
      block: String(inc.block_number),
    });
    anchored.append(where);
  } else {
    setText(anchored, 'receipt.anchored_pending');
  }
}

function qrImage(text) {
  try {
    return encodeQR(text, 'data-url', { ecc: 'medium', scale: 4 });
  } catch {
    return null; // too much for a QR code
  }
}

function renderQr() {
  const img = $('qr');
  const secret = receiptSecret(receipt);
  let src = secret ? qrImage(compactReceiptJSON(receipt, { followUp: secret })) : null;
  let caption = secret ? 'receipt.qr_caption_secret' : 'receipt.qr_caption';
  if (!src) {
    src = qrImage(compactReceiptJSON(receipt));
    if (secret) caption = 'receipt.qr_caption_no_secret';
  }
  img.dataset.holdsSecret = String(Boolean(secret) && caption === 'receipt.qr_caption_secret');
  if (src) {
    img.src = src;
    show(img);
    setText($('qr-caption'), caption);
  } else {
    show(img, false);
    setText($('qr-caption'), 'receipt.qr_too_big');
  }
}

// --- not losing the receipt -------------------------------------------------------------------

let leaving = false; // a link of this site was followed: the tab (and its session) stays

/** The receipt was downloaded or the secret copied: closing the tab loses nothing. */
function markSaved() {
  if (session.saved) return;
  session.saved = true;
  saveSession(session);
}

/** Until the receipt is saved, closing the tab asks first (browsers show their own words, and
 *  only once the page has been used); moving to another page of this site keeps the session. */
function warnBeforeClosing() {
  document.addEventListener('click', (event) => {
    const link = event.target.closest?.('a[href]');
    if (!link || link.hasAttribute('download')) return; // a download (a blob: link) stays here
    const url = new URL(link.href, location.href);
    if (url.protocol.startsWith('http') && url.origin === location.origin) leaving = true;
  });
  window.addEventListener('beforeunload', (event) => {
    if (session.saved || leaving) return;
    event.preventDefault();
    event.returnValue = ''; // still needed by some browsers
  });
}

function renderFollowUp() {
  const secret = receiptSecret(receipt) ?? session.followUp ?? null;
  if (secret) {
    $('follow-up-secret').textContent = secret;
    show($('follow-up'));
  }
  show($('follow-up-missing'), !secret && !tipCode() && Boolean(session.followUpAsked));
  $('copy-secret').addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(secret);
      markSaved();
      setText($('copy-status'), 'receipt.copied');
    } catch {
      // No clipboard (an old browser, or refused): select it so it can be copied by hand.
      const range = document.createRange();
      range.selectNodeContents($('follow-up-secret'));
      getSelection().removeAllRanges();
      getSelection().addRange(range);
      setText($('copy-status'), 'receipt.copy_by_hand');
    }
  });
}

function renderIdentity() {
  const sealed = isIdentitySummary(session.identity) ? session.identity : null;
  if (sealed) {
    renderIdentitySummary($('identity-text'), $('identity-record'), sealed);
    show($('identity-sealed'));
  }
  show($('identity-missing'), Boolean(session.identityAsked) && !sealed);
  // Who can open it depends on the kind: say so if the service sealed another than was chosen.
  const differs = sealed && typeof session.identityAsked === 'string' && sealed.kind !== session.identityAsked;
  show($('identity-kind-differs'), Boolean(differs));
}

/** The code of this tip (from the session, or the receipt that holds it), or null. */
function tipCode() {
  return receiptCode(receipt) ?? (typeof session.code === 'string' ? session.code : null);
}

function renderCode() {
  const code = tipCode();
  if (!code) return;
  const shown = $('reporter-code');
  // Four groups of four, each one unbroken, wrapped between groups on a narrow screen.
  shown.replaceChildren(...code.split('-').map((group) => h('span', { className: 'group' }, group)));
  shown.dataset.code = code;
  show($('code-card'));
  setText($('keep-title'), 'receipt.code_keep_title');
  setText($('keep-text'), 'receipt.code_keep_text');
  const written = $('code-written');
  written.checked = Boolean(session.saved);
  written.addEventListener('change', () => {
    if (written.checked) markSaved();
    else {
      session.saved = false;
      saveSession(session);
    }
  });
  $('copy-code').addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(code);
      markSaved();
      setText($('code-copy-status'), 'receipt.copied');
    } catch {
      const range = document.createRange();
      range.selectNodeContents(shown);
      getSelection().removeAllRanges();
      getSelection().addRange(range);
      setText($('code-copy-status'), 'receipt.copy_by_hand');
    }
  });
}

function render() {
  renderState();
  renderFacts();
}

function receiptForDownload() {
  if (session.followUp && !receiptSecret(receipt)) {
    receipt.extra = { ...(receipt.extra || {}), follow_up: { secret: session.followUp } };
  }
  return receiptToJSON(receipt) + '\n';
}

async function anchoredReceipt(candidate) {
  const checks = await verifyOffline(candidate, documentBytes);
  return checks.every((c) => c.ok);
}

function schedule() {
  if (stopped) return;
  polls += 1;
  setTimeout(poll, polls < FAST_POLLS ? POLL_FAST_MS : POLL_SLOW_MS);
}

async function poll() {
  if (stopped) return;
  let response;
  try {
    response = await fetch(`/v1/tips/${receipt.commitment}/receipt`, {
      credentials: 'omit',
      cache: 'no-store',
      headers: { Accept: 'application/json' },
    });
  } catch {
    stateView = { key: 'retrying' };
    renderState();
    schedule();
    return;
  }
  if (response.status === 404) {
    stateView = { key: 'unknown' };
    render();
    return;
  }
  if (response.status === 202) {
    stateView = { key: 'pending' };
    renderState();
    schedule();
    return;
  }
  if (!response.ok) {
    stateView = { key: 'retrying' };
    renderState();
    schedule();
    return;
  }
  let merged;
  try {
    merged = withInclusion(receipt, await response.json());
  } catch {
    stateView = { key: 'failed' };
    render();
    return;
  }
  if (!merged.inclusion) {
    schedule();
    return;
  }
  if (!(await anchoredReceipt(merged))) {
    stateView = { key: 'failed' };
    render();
    return;
  }
  receipt = merged;
  session.receipt = receiptToJSON(receipt);
  saveSession(session);
  stateView = { key: 'anchored' };
  render();
}

async function main() {
  await initI18n();
  session = loadSession();
  if (!session || !session.receipt) {
    show($('no-receipt'));
    document.body.dataset.ready = 'true';
    return;
  }
  try {
    receipt = parseReceipt(session.receipt);
    documentBytes = session.document ? fromBase64(session.document) : null;
  } catch {
    show($('no-receipt'));
    document.body.dataset.ready = 'true';
    return;
  }
  show($('receipt-view'));
  renderFollowUp();
  renderCode();
  renderIdentity();
  show($('download-key'), Boolean(session.authorKey));
  show($('download-document'), Boolean(documentBytes));
  // Neutral file names: a downloads folder should not say what the files are about.
  $('download-receipt').addEventListener('click', () => {
    download(`receipt-${shortName()}.json`, receiptForDownload());
    if (!tipCode()) markSaved(); // with a code, what must not be lost is the code: written down

  });
  $('download-document').addEventListener('click', () => {
    const web = parseTipDocument(documentBytes);
    const name = `document-${shortName()}.${web ? 'json' : 'txt'}`;
    download(name, documentBytes, web ? 'application/json' : 'application/octet-stream');
  });
  $('download-key').addEventListener('click', () => {
    download(`key-${shortName()}.txt`, `${session.authorKey}\n`, 'text/plain');
  });
  $('forget').addEventListener('click', () => {
    if (!confirm(t('receipt.forget_confirm'))) return;
    stopped = true;
    leaving = true;
    clearSession();
    location.assign(pageUrl('/'));
  });
  warnBeforeClosing();
  document.addEventListener('tipledger:lang', render);
  renderQr();
  if (receipt.inclusion && (await anchoredReceipt(receipt))) {
    stateView = { key: 'anchored' };
    render();
  } else {
    stateView = { key: 'pending' };
    render();
    poll();
  }
  document.body.dataset.ready = 'true';
}

main();
