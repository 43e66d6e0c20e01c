// Check a saved receipt's status: only its commitment is sent to the service. Once anchored, the
// inclusion is merged into the receipt here and checked in the browser, and the updated receipt
// can be downloaded or verified. (Follow-up with the secret arrives with the reviewers' API.)

import { formatTime, initI18n, setText } from './i18n.js';
import { parseReceipt, receiptToJSON, withInclusion } from './receipt.js';
import { $, download, show, showError } from './ui.js';
import { verifyOffline } from './verify.js';

export const HANDOFF_KEY = 'tipledger.verify-receipt';

let current = null; // {receipt, key, params}

function render() {
  if (!current) return;
  const { key, params } = current;
  const box = $('status-result');
  box.className = `state ${key === 'anchored' ? 'anchored' : key === 'pending' ? 'pending' : 'failed'}`;
  const text = {
    anchored: ['status.anchored', { time: formatTime(current.receipt.inclusion?.block_timestamp ?? 0) }],
    pending: [
      'status.pending',
      { received: current.receipt.promise ? formatTime(current.receipt.promise.received_at) : '—' },
    ],
    unknown: ['status.unknown'],
    error: ['status.error', params],
  }[key];
  setText($('status-text'), ...text);
  box.dataset.state = key;
  show(box);
  show($('status-download'), key === 'anchored');
  show($('status-verify'), key === 'anchored' || key === 'pending');
}

async function check(event) {
  event.preventDefault();
  $('status-error').hidden = true;
  show($('status-result'), false);
  let receipt;
  try {
    receipt = parseReceipt($('status-receipt').value.trim());
  } catch (exc) {
    showError($('status-error'), 'status.bad_receipt', { detail: exc.message });
    return;
  }
  let response;
  try {
    response = await fetch(`/v1/tips/${receipt.commitment}/receipt`, {
      credentials: 'omit',
      cache: 'no-store',
      headers: { Accept: 'application/json' },
    });
  } catch (exc) {
    current = { receipt, key: 'error', params: { detail: exc.message } };
    render();
    return;
  }
  if (response.status === 404) {
    current = { receipt, key: 'unknown' };
  } else if (response.status === 202) {
    current = { receipt, key: 'pending' };
  } else if (response.ok) {
    try {
      const merged = withInclusion(receipt, await response.json());
      const checks = await verifyOffline(merged, null);
      const bad = checks.find((c) => !c.ok);
      if (bad) throw new Error(`${bad.name}: ${bad.code}`);
      current = { receipt: merged, key: merged.inclusion ? 'anchored' : 'pending' };
    } catch (exc) {
      current = { receipt, key: 'error', params: { detail: exc.message } };
    }
  } else {
    current = { receipt, key: 'error', params: { detail: `HTTP ${response.status}` } };
  }
  sessionStorage.setItem(HANDOFF_KEY, receiptToJSON(current.receipt));
  render();
}

async function main() {
  await initI18n();
  $('status-file').addEventListener('change', async (event) => {
    const file = event.target.files[0];
    if (file) $('status-receipt').value = await file.text();
  });
  $('status-form').addEventListener('submit', check);
  $('status-download').addEventListener('click', () => {
    if (current) {
      const name = `tipledger-receipt-${current.receipt.commitment.slice(2, 10)}.json`;
      download(name, receiptToJSON(current.receipt) + '\n');
    }
  });
  document.addEventListener('tipledger:lang', render);
  document.body.dataset.ready = 'true';
}

main();
