// The optional identity form (templates/_identity.html), shared by the submit page and the
// follow-up page. The role the reporter picks decides the record kind (reporter or witness);
// the service says per kind whether it can seal one now (/web-config.json features.identity).

import { setText } from './i18n.js';
import { $, show } from './ui.js';

export const IDENTITY_KINDS = ['reporter', 'witness'];

/** The kinds the service can seal an identity as right now, from /web-config.json. */
export function offeredKinds(config) {
  const offered = config?.features?.identity;
  if (!offered || typeof offered !== 'object') return [];
  return IDENTITY_KINDS.filter((kind) => offered[kind] === true);
}

/** Enable the roles the service offers, pick the first offered one, and say which is not. */
export function setupIdentityForm(config) {
  const kinds = offeredKinds(config);
  for (const kind of IDENTITY_KINDS) {
    const radio = $(`identity-role-${kind}`);
    radio.disabled = !kinds.includes(kind);
    if (radio.disabled) radio.checked = false;
  }
  if (kinds.length && !document.querySelector('input[name="identity-role"]:checked')) {
    $(`identity-role-${kinds[0]}`).checked = true;
  }
  const note = $('identity-kind-note');
  const missing = IDENTITY_KINDS.filter((kind) => !kinds.includes(kind));
  if (kinds.length && missing.length) {
    setText(note, `identity.not_offered_${missing[0]}`);
    show(note);
  } else {
    show(note, false);
  }
  return kinds;
}

/** {role, name, contact} as typed, or null when both name and contact are empty. */
export function identityAnswer() {
  const name = $('identity-name').value.trim();
  const contact = $('identity-contact').value.trim();
  if (!name && !contact) return null;
  const role = document.querySelector('input[name="identity-role"]:checked')?.value;
  return { role: role || null, name, contact };
}

export function clearIdentityForm() {
  $('identity-name').value = '';
  $('identity-contact').value = '';
}

/** Is `summary` the service's answer about a sealed identity record? */
export function isIdentitySummary(summary) {
  return (
    summary !== null &&
    typeof summary === 'object' &&
    typeof summary.record_id === 'string' &&
    IDENTITY_KINDS.includes(summary.kind) &&
    Number.isInteger(summary.threshold) &&
    Number.isInteger(summary.custodians)
  );
}

/** Say, in `textEl` and `recordEl`, what was sealed and who can open it. */
export function renderIdentitySummary(textEl, recordEl, summary) {
  setText(textEl, `identity.sealed_${summary.kind}`, {
    threshold: summary.threshold,
    custodians: summary.custodians,
  });
  setText(recordEl, 'identity.record', { record: summary.record_id });
}
