// Verify a receipt entirely in this browser: hash the document, check the commitment and the
// RFC 9162 inclusion proof, read latest() and the anchoring events straight from a JSON-RPC
// node of the chain, and the log's tiles from the service or a mirror (checked against the
// chain). What is asked is the same for every receipt but the tile group and the block window.

import { formatTime, formatTimeUtc, initI18n, setText, t } from './i18n.js';
import {
  buildTipDocument,
  contentDigest,
  equalBytes,
  fromBase64,
  fromHex,
  parseTipDocument,
  safeAttachmentName,
  sha256,
  toHex,
  utf8,
  wellFormedText,
} from './protocol.js';
import { parseReceipt } from './receipt.js';
import { $, h, loadSession, readFileBytes, show, showError, webConfig } from './ui.js';
import { verifyReceipt } from './verify.js';

const HANDOFF_KEY = 'tipledger.verify-receipt';

let sessionDocument = null;
let last = null; // {receipt, verdict, rpcUrl, logUrl, docNote}

function mode() {
  return document.querySelector('input[name="doc-mode"]:checked')?.value || 'file';
}

function syncMode() {
  show($('doc-file-box'), mode() === 'file');
  show($('doc-text-box'), mode() === 'text');
}

/** The document bytes for the chosen mode (null: none), and a note on what was used. */
async function chosenDocument(receipt) {
  switch (mode()) {
    case 'session':
      if (!sessionDocument) throw new UserError('verify.no_session_document');
      return { bytes: sessionDocument };
    case 'file': {
      const file = $('verify-document-file').files[0];
      if (!file) throw new UserError('verify.no_document_file');
      return { bytes: await readFileBytes(file) };
    }
    case 'text': {
      const text = wellFormedText($('verify-text').value);
      const attachments = [];
      for (const file of $('verify-attachments').files) {
        attachments.push({
          name: safeAttachmentName(file.name),
          sha256: toHex(await sha256(await readFileBytes(file))),
          size: file.size,
          type: file.type || 'application/octet-stream',
        });
      }
      // As sent from the web page (the tip document), else as a plain text document.
      const web = buildTipDocument(text, attachments);
      const want = fromHex(receipt.content_digest, 32);
      if (!attachments.length && !equalBytes(await contentDigest(web), want)) {
        const raw = utf8(text);
        if (equalBytes(await contentDigest(raw), want)) {
          return { bytes: raw, note: ['verify.doc_matched_raw'] };
        }
      }
      return { bytes: web };
    }
    default:
      return { bytes: null };
  }
}

class UserError extends Error {
  constructor(key, params) {
    super(key);
    this.key = key;
    this.params = params;
  }
}

function checkDetail(c) {
  const params = { ...c.params };
  if (c.code === 'time_ok') params.time = formatTime(params.time);
  return ['code.' + c.code, params];
}

function fact(list, key, value) {
  list.append(h('dt', { i18n: [key] }), h('dd', { className: 'mono' }, value));
}

function render() {
  if (!last) return;
  const { receipt, verdict, rpcUrl, logUrl, docNote } = last;
  const section = $('verdict');
  const banner = $('verdict-banner');
  banner.className = `verdict-banner ${verdict.status}`;
  section.dataset.status = verdict.status;
  setText($('verdict-title'), `verify.${verdict.status}`);
  const text = {
    valid: [
      verdict.documentChecked ? 'verify.valid_text' : 'verify.valid_commitment_text',
      { time: verdict.provenTime === null ? '' : formatTime(verdict.provenTime) },
    ],
    invalid: ['verify.invalid_text'],
    pending: ['verify.pending_text'],
    incomplete: [
      verdict.logError === null ? 'verify.incomplete_text' : 'verify.incomplete_log_text',
      { detail: verdict.chainError },
    ],
  }[verdict.status];
  setText($('verdict-text'), ...text);

  const list = $('verdict-checks');
  list.replaceChildren();
  for (const c of verdict.checks) {
    list.append(
      h(
        'li',
        { className: c.ok ? 'ok' : 'bad', 'data-check': c.name, 'data-ok': String(c.ok) },
        h('span', { className: 'mark', 'aria-hidden': 'true' }, c.ok ? '✓' : '✗'),
        h(
          'span',
          {},
          h('span', { className: 'sr-only', i18n: [c.ok ? 'verify.check_passed' : 'verify.check_failed'] }),
          h('strong', { i18n: [`check.${c.name}`] }),
        ),
        h('span', { className: 'detail', i18n: checkDetail(c) }),
      ),
    );
  }
  const warnings = $('verdict-warnings');
  warnings.replaceChildren(...verdict.warnings.map((w) => h('li', { i18n: [`warning.${w.code}`, w.params] })));
  const unchecked = $('verdict-unchecked');
  if (verdict.unchecked.length) {
    setText(unchecked, 'verify.unchecked', {
      names: verdict.unchecked.map((name) => t(`check.${name}`)).join(', '),
    });
  } else {
    unchecked.replaceChildren();
  }
  const note = $('verdict-doc-note');
  if (docNote) setText(note, ...docNote);
  else note.replaceChildren();

  const facts = $('verdict-facts');
  facts.replaceChildren();
  fact(facts, 'verify.fact_commitment', receipt.commitment);
  fact(facts, 'verify.fact_chain', String(receipt.chain_id));
  fact(facts, 'verify.fact_contract', receipt.contract);
  if (receipt.inclusion) {
    const inc = receipt.inclusion;
    // counted from 1, as everywhere people read it; leaf_index on the wire counts from 0
    const entry = t('verify.entry_of', { index: String(inc.leaf_index + 1n), size: String(inc.tree_size) });
    fact(facts, 'verify.fact_entry', entry);
    fact(facts, 'verify.fact_block', `${inc.block_number} (${inc.anchor_tx})`);
    fact(facts, 'verify.fact_time', formatTimeUtc(inc.block_timestamp));
  }
  fact(facts, 'verify.fact_rpc', rpcUrl || '—');
  fact(facts, 'verify.fact_log', logUrl || '—');
  show(section);
}

async function run(event) {
  event.preventDefault();
  const errorBox = $('verify-error');
  errorBox.hidden = true;
  show($('verdict'), false);
  let receipt;
  try {
    receipt = parseReceipt($('verify-receipt').value.trim());
  } catch (exc) {
    showError(errorBox, 'verify.bad_receipt', { detail: exc.message });
    return;
  }
  const button = $('verify-button');
  button.disabled = true;
  setText(button, 'verify.working');
  try {
    const doc = await chosenDocument(receipt);
    let docNote = doc.note || null;
    if (doc.bytes) {
      const web = parseTipDocument(doc.bytes);
      if (web && !docNote) docNote = ['verify.doc_web_tip', { count: web.attachments.length }];
    }
    const rpcUrl = $('verify-rpc').value.trim();
    const logUrl = $('verify-log').value.trim();
    const verdict = await verifyReceipt(receipt, doc.bytes, rpcUrl, { logUrl });
    last = { receipt, verdict, rpcUrl, logUrl, docNote };
    render();
    $('verdict').scrollIntoView({ block: 'start' });
  } catch (exc) {
    if (exc instanceof UserError) showError(errorBox, exc.key, exc.params);
    else showError(errorBox, 'verify.bad_receipt', { detail: exc.message || String(exc) });
  } finally {
    button.disabled = false;
    setText(button, 'verify.button');
  }
}

async function main() {
  await initI18n();
  let config = {};
  try {
    config = await webConfig();
  } catch {
    // no suggestion: the user types a node address
  }
  $('verify-rpc').value = config.rpc_url || '';
  // log_url may be relative (this service's /log): shown in full, as the node's address is
  $('verify-log').value = new URL(config.log_url || '/log', location.href).href;
  const session = loadSession();
  const handoff = sessionStorage.getItem(HANDOFF_KEY);
  if (location.hash === '#status' && handoff) {
    $('verify-receipt').value = handoff;
  } else if (session?.receipt) {
    $('verify-receipt').value = session.receipt;
    if (session.document) {
      sessionDocument = fromBase64(session.document);
      show($('doc-mode-session-row'));
      $('doc-mode-session').checked = true;
    }
  } else if (handoff) {
    $('verify-receipt').value = handoff;
  }
  for (const radio of document.querySelectorAll('input[name="doc-mode"]')) {
    radio.addEventListener('change', syncMode);
  }
  syncMode();
  $('verify-receipt-file').addEventListener('change', async (event) => {
    const file = event.target.files[0];
    if (file) $('verify-receipt').value = await file.text();
  });
  $('verify-form').addEventListener('submit', run);
  document.addEventListener('tipledger:lang', render);
  document.body.dataset.ready = 'true';
}

main();
