// Submit a tip. The browser builds the tip document, fingerprints the attachments, makes the salt
// (from the reporter's code when they follow up; and optionally a one-time author key) and
// computes the commitment itself; then it seals everything here (device.js): the tip and each
// attachment to a fresh case key granted to the chosen agency's members, whose keys it reads from
// the chain; the code is made here and only its locator, verifier and case key tag are sent; the
// optional identity is split and sealed to its custodians here.
// The service gets only the commitment and ciphertexts, and its answer is accepted only if it
// names exactly the commitment the browser computed. The tip goes to the agency chosen
// (agencies.js), the national intake desk unless another is chosen.

import { AgencyChoice } from './agencies.js';
import { addressBytes, newAuthorKey } from './eth.js';
import { formatSize, initI18n, pageUrl, setText, t } from './i18n.js';
import { identityAnswer, isIdentitySummary, offeredKinds, setupIdentityForm } from './identity.js';
import {
  ZERO_AUTHOR,
  buildTipDocument,
  commitment,
  contentDigest,
  fromHex,
  newSalt,
  safeAttachmentName,
  toBase64,
  toHex,
  wellFormedText,
} from './protocol.js';
import { receiptFromObject, receiptToJSON } from './receipt.js';
import { $, h, saveSession, show, showError, webConfig } from './ui.js';

const state = { files: [], authorKey: null, config: { features: {} }, busy: false, agency: null };

// The sealing code (HPKE, Shamir, the follow-up keys) is most of the page's weight: it is
// fetched once the reporter starts writing or attaching, not for every visit to the page. The
// import map pins these modules' integrity as it pins the rest.
let sealingCode = null;
function sealing() {
  sealingCode ??= Promise.all([
    import('./device.js'),
    import('./followup-keys.js'),
    import('./identity-seal.js'),
    import('./seal.js'),
  ])
    .then(([device, followUp, identity, seal]) => ({ device, followUp, identity, seal }))
    .catch((exc) => {
      sealingCode = null; // fetched again at the next try (the connection may be back)
      throw exc;
    });
  return sealingCode;
}

// The reporter's one code (reporter-code.js) is made here and stretched in the background once
// the reporter starts writing: Argon2id takes about a second on a desktop, more on a phone, and
// its module is fetched only then. The code gives the tip's salt, so it is ready before sealing.
const CODE_TRIES = 3; // a locator already taken is ~0.1 % of tips at a million: twice is plenty
let codeWork = null; // {promise, fraction}: the code being stretched for the next tip

function startCode() {
  if (codeWork) return codeWork.promise;
  const work = { fraction: 0, listener: null };
  work.promise = import('./reporter-code.js')
    .then((R) =>
      R.codeKeys(R.newCode(), {
        onProgress: (fraction) => {
          work.fraction = fraction;
          work.listener?.(fraction);
        },
      }),
    )
    .catch((exc) => {
      if (codeWork === work) codeWork = null; // made again at the next try
      throw exc;
    });
  work.promise.catch(() => {}); // awaited (and reported) when the tip is sent
  codeWork = work;
  return work.promise;
}

function forgetCode() {
  codeWork = null;
}

/** The stretched code for this tip (a new one if `fresh`), showing the stretching if it is
 *  still going when the reporter sends. */
async function codeForTip(fresh) {
  if (fresh) forgetCode();
  startCode();
  const work = codeWork;
  const shown = (fraction) => {
    const percent = Math.floor(100 * fraction);
    progress('submit.step_code', { percent }, percent);
  };
  shown(work.fraction);
  work.listener = shown;
  try {
    return await work.promise;
  } finally {
    work.listener = null;
  }
}

/** The service already holds a tip whose code starts with this code's six symbols (409). */
function locatorTaken(reply) {
  const detail = reply.data?.detail;
  return reply.status === 409 && typeof detail === 'string' && /first six symbols/i.test(detail);
}

function attachmentType(file) {
  // A File's type is lower case ASCII or empty; the browser sends an empty one as
  // application/octet-stream, which is what the service then lists.
  return file.type || 'application/octet-stream';
}

/** JPEG and PNG photos (by their first bytes) without their metadata, on this device. A photo
 *  that does not parse is kept as it is, and the list says its metadata is still in it. */
async function withoutPhotoMetadata(entry) {
  const photos = await import('./photo-metadata.js');
  try {
    const stripped = await photos.removePhotoMetadata(entry.file);
    if (stripped.kind === null) return;
    entry.file = stripped.file;
    entry.size = stripped.file.size;
    entry.photo = 'removed';
  } catch (exc) {
    if (!(exc instanceof photos.PhotoMetadataError)) throw exc;
    entry.photo = 'kept';
  }
}

function addFiles(fileList) {
  for (const file of fileList) {
    const name = safeAttachmentName(file.name);
    const entry = { file, name, type: attachmentType(file), size: file.size, sha256: null, photo: null };
    // A photo's metadata goes first (photo-metadata.js): what is hashed, listed and sealed is
    // the photo without it. Hashed in chunks: a large file is never held whole (seal.js).
    entry.hashing = withoutPhotoMetadata(entry)
      .then(() => sealing())
      .then(({ seal }) => seal.hashFile(entry.file))
      .then((digest) => {
        entry.sha256 = toHex(digest);
        renderFiles();
        return entry.sha256;
      });
    state.files.push(entry);
  }
  renderFiles();
}

function renderFiles() {
  const list = $('file-list');
  list.replaceChildren();
  state.files.forEach((entry, i) => {
    const remove = h('button', {
      type: 'button',
      className: 'secondary',
      'aria-label': t('submit.file_remove', { name: entry.name }),
    }, '×');
    remove.addEventListener('click', () => {
      state.files.splice(i, 1);
      renderFiles();
    });
    const digest = entry.sha256
      ? h('span', { className: 'meta mono', title: entry.sha256 }, `SHA-256 ${entry.sha256.slice(0, 18)}…`)
      : h('span', { className: 'meta', i18n: ['submit.file_hashing'] });
    const photo = entry.photo === 'removed'
      ? h('span', { className: 'meta photo-removed', i18n: ['submit.photo_removed'] })
      : entry.photo === 'kept' ? h('span', { className: 'photo-kept', i18n: ['submit.photo_kept'] }) : null;
    list.append(
      h('li', {}, h('span', { className: 'name' }, entry.name), h('span', { className: 'meta' }, formatSize(entry.size)), digest, photo, state.busy ? null : remove),
    );
  });
}

function progress(key, params, percent) {
  show($('progress-box'));
  setText($('progress-text'), key, params);
  const bar = $('progress');
  if (percent === undefined) bar.removeAttribute('value');
  else bar.value = percent;
}

function fail(key, params) {
  show($('progress-box'), false);
  showError($('error-box'), key, params);
}

/** An empty tip: the message right above the text box, which gets focus and aria-invalid; on a
 *  phone the box is scrolled to the middle of the screen, so the message is where the eye is. */
function fieldError(key) {
  const box = $('tip-text');
  const message = $('tip-text-error');
  setText(message, key);
  show(message);
  box.setAttribute('aria-invalid', 'true');
  box.setAttribute('aria-describedby', 'tip-text-error tip-text-hint');
  message.scrollIntoView({ block: 'center' });
  box.focus({ preventScroll: true });
}

function clearFieldError() {
  const box = $('tip-text');
  if (box.getAttribute('aria-invalid') !== 'true') return;
  box.removeAttribute('aria-invalid');
  box.setAttribute('aria-describedby', 'tip-text-hint');
  show($('tip-text-error'), false);
}

/** The service refused the agency (e.g. deactivated since the page read the list): said beside
 *  the choice, the rest of the form kept as it is. Without the field shown, as any refusal. */
function agencyRefused(detail) {
  show($('progress-box'), false);
  const choice = state.agency;
  if (!choice.shown) {
    fail('submit.error_service', { detail });
    return;
  }
  const several = choice.agencies.length > 1;
  choice.showError(several ? 'submit.error_agency' : 'submit.error_agency_only', { detail });
}

function mismatch(field, mine, theirs) {
  show($('progress-box'), false);
  const box = $('error-box');
  box.replaceChildren(
    h('p', { className: 'title', i18n: ['submit.error_mismatch_title'] }),
    h('p', { i18n: ['submit.error_mismatch', { field }] }),
    h('p', { className: 'mono small' }, `browser: ${mine}`),
    h('p', { className: 'mono small' }, `service: ${theirs}`),
  );
  box.hidden = false;
  box.focus();
}

function send(body, contentType) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', '/v1/tips');
    xhr.withCredentials = false;
    if (contentType) xhr.setRequestHeader('Content-Type', contentType);
    xhr.setRequestHeader('Accept', 'application/json');
    xhr.upload.addEventListener('progress', (event) => {
      if (event.lengthComputable) {
        const percent = Math.floor((100 * event.loaded) / event.total);
        progress('submit.step_uploading', { percent }, percent);
      }
    });
    xhr.addEventListener('load', () => {
      let data = null;
      try {
        data = JSON.parse(xhr.responseText);
      } catch {
        // not JSON: reported below with the status
      }
      resolve({ status: xhr.status, data });
    });
    xhr.addEventListener('error', () => reject(new Error('network')));
    xhr.addEventListener('abort', () => reject(new Error('network')));
    xhr.send(body);
  });
}

function wantsFollowUp() {
  return state.config.features?.follow_up === true && $('follow-up-choice').checked;
}

function identityToSend() {
  return offeredKinds(state.config).length ? identityAnswer() : null;
}

/** Does the service's 202 answer name exactly the commitment this browser computed, with a
 *  promise for it? Names the first field that differs, or returns null. The service never had
 *  the salt, digest or author (the tip was sealed here): the receipt gets them from this page. */
function checkAnswer(answer, mine) {
  if (!answer || typeof answer !== 'object' || !answer.receipt) {
    return ['receipt', 'a receipt', JSON.stringify(answer)?.slice(0, 120)];
  }
  const r = answer.receipt;
  const lower = (v) => String(v ?? '').toLowerCase();
  if (lower(answer.commitment) !== mine.commitment) return ['commitment', mine.commitment, answer.commitment];
  if (lower(r.commitment) !== mine.commitment) return ['commitment', mine.commitment, r.commitment];
  for (const [field, value] of [['salt', mine.salt], ['content_digest', mine.digest]]) {
    if (r[field] !== undefined && lower(r[field]) !== value) return [field, value, r[field]];
  }
  try {
    receiptFromObject(mine.receipt(r));
  } catch (exc) {
    return ['receipt', 'a valid receipt', exc.message];
  }
  return null;
}

async function submit(event) {
  event.preventDefault();
  if (state.busy) return;
  $('error-box').hidden = true;
  state.agency.clearError();
  const text = wellFormedText($('tip-text').value);
  if (!text.trim() && state.files.length === 0) {
    fieldError('submit.error_empty');
    return;
  }
  const agency = state.agency.chosen();
  if (!agency) {
    state.agency.showError('submit.error_agency_choose');
    return;
  }
  if (!globalThis.crypto?.subtle) {
    fail('submit.error_crypto', { detail: 'WebCrypto needs HTTPS' });
    return;
  }
  state.busy = true;
  $('submit-button').disabled = true;
  renderFiles();
  try {
    for (const entry of state.files) {
      if (!entry.sha256) {
        progress('submit.step_hashing', { name: entry.name });
        await entry.hashing;
      }
    }
    progress('submit.step_building');
    const attachments = state.files.map((f) => ({
      name: f.name,
      sha256: f.sha256,
      size: f.size,
      type: f.type,
    }));
    const document = buildTipDocument(text, attachments);
    const author = state.authorKey ? state.authorKey.addressBytes : ZERO_AUTHOR;
    const digest = await contentDigest(document);
    const limit = state.config.max_body_bytes;
    const total = state.files.reduce((n, f) => n + f.size, 0) + document.length;
    if (limit && total > limit) {
      fail('submit.error_too_large', { size: formatSize(total), limit: formatSize(limit) });
      return;
    }
    const { device, identity: identitySeal } = await sealing();
    let keys;
    try {
      keys = await device.memberKeys(
        state.config, agency, agency.members, (state.agency.agencies ?? []).map((a) => a.id),
      );
    } catch (exc) {
      if (!(exc instanceof device.MemberKeyError)) throw exc;
      // Said in the page's language: what the chain itself lists for the agency.
      if (exc.code === 'agency_closed') agencyRefused(t(`submit.agency_chain_${exc.params.state}`));
      else fail(`submit.error_keys_${exc.code}`, { detail: exc.message, ...exc.params });
      return;
    }
    const identity = identityToSend();
    let identityRecord = null;
    if (identity) {
      try {
        // {custodians, threshold}, each custodian checked on chain
        const custodians = await identitySeal.custodianSet(identity.role);
        identityRecord = await identitySeal.sealIdentity({ identity, kind: identity.role, ...custodians });
      } catch (exc) {
        fail('submit.error_identity_keys', { detail: exc.message || String(exc) });
        return;
      }
    }
    // With a code, the salt is the code's: the tip is sealed, and sent, again with a new code
    // if the service already holds a tip whose code starts with the same six symbols.
    let code = null;
    let mine;
    let sealed;
    let reply;
    for (let attempt = 1; ; attempt += 1) {
      code = wantsFollowUp() ? await codeForTip(attempt > 1) : null;
      const salt = code ? code.salt : newSalt();
      mine = {
        document,
        salt: toHex(salt),
        digest: toHex(digest),
        author: toHex(author),
        commitment: toHex(await commitment(salt, digest, author)),
        // The service's public part of the receipt with this page's own salt, digest and author.
        receipt: (r) => ({
          ...r,
          salt: toHex(salt),
          content_digest: toHex(digest),
          author: state.authorKey ? state.authorKey.address : toHex(author),
        }),
      };
      progress('submit.step_sealing', { percent: 0 }, 0);
      sealed = await device.sealForMembers(keys, {
        agency,
        commitment: fromHex(mine.commitment),
        document,
        salt,
        author,
        files: state.files,
        onProgress: (done, all) => {
          const percent = all ? Math.floor((100 * done) / all) : 100;
          progress('submit.step_sealing', { percent }, percent);
        },
      });
      if (code) {
        const { codeEnrolment } = await import('./reporter-code.js');
        const caseKey = fromHex(sealed.body.case_key, 32);
        sealed.body.follow_up = await codeEnrolment(code, fromHex(mine.commitment, 32), caseKey);
      }
      if (identityRecord) sealed.body.identity = identityRecord;
      let body;
      let contentType;
      if (sealed.streams.length === 0) {
        body = JSON.stringify(sealed.body);
        contentType = 'application/json';
      } else {
        // The sealed tip, then each sealed attachment in the document's order (PROTOCOL.md 17.1).
        body = new FormData();
        body.append('tip', new Blob([JSON.stringify(sealed.body)], { type: 'application/json' }), 'tip.json');
        sealed.streams.forEach((stream, i) => body.append('attachment', stream, `${i}.sealed`));
        contentType = null; // the browser sets multipart/form-data with its boundary
      }
      progress('submit.step_uploading', { percent: 0 }, 0);
      try {
        reply = await send(body, contentType);
      } catch {
        fail('submit.error_network');
        return;
      }
      if (!(code && attempt < CODE_TRIES && locatorTaken(reply))) break;
    }
    if (reply.status !== 202) {
      const raw = reply.data?.detail ?? `HTTP ${reply.status}`;
      const detail = typeof raw === 'string' ? raw : JSON.stringify(raw);
      // The service names the agency in every refusal of it (unknown, inactive, no members).
      if (reply.status === 422 && /\bagency\b/i.test(detail)) agencyRefused(detail);
      else fail('submit.error_service', { detail });
      return;
    }
    progress('submit.step_checking', {}, 100);
    const wrong = checkAnswer(reply.data, mine);
    if (wrong) {
      mismatch(...wrong);
      return;
    }
    const answer = reply.data;
    const receipt = receiptFromObject(mine.receipt(answer.receipt));
    // The code was made here; it is all the reporter keeps (the receipt file holds it too).
    const codeText = code ? code.code.text : null;
    receipt.extra = codeText ? { follow_up: { code: codeText } } : {};
    forgetCode(); // one code, one tip
    saveSession({
      receipt: receiptToJSON(receipt),
      document: toBase64(document),
      authorKey: state.authorKey ? state.authorKey.privateKey : null,
      authorAddress: state.authorKey ? state.authorKey.address : null,
      code: codeText,
      followUpAsked: Boolean(code),
      identity: isIdentitySummary(answer.identity) ? answer.identity : null,
      identityAsked: identity ? identity.role : null,
      // The receipt page names the agency in either language.
      agency: { id: agency.id, name_th: agency.name_th, name_en: agency.name_en },
    });
    // Leave nothing of the tip in the form (the back button would show it).
    $('tip-form').reset();
    state.files = [];
    state.authorKey = null;
    location.assign(pageUrl('/receipt'));
  } catch (exc) {
    fail('submit.error_crypto', { detail: exc.message || String(exc) });
  } finally {
    state.busy = false;
    $('submit-button').disabled = false;
    renderFiles();
  }
}

async function main() {
  await initI18n();
  state.agency = new AgencyChoice();
  const [config] = await Promise.all([webConfig().catch(() => null), state.agency.load()]);
  state.config = config ?? { features: {} };
  show($('follow-up-fieldset'), state.config.features?.follow_up === true);
  show($('identity-fieldset'), setupIdentityForm(state.config).length > 0);
  $('tip-files').addEventListener('change', (event) => {
    addFiles(event.target.files);
    event.target.value = '';
    clearFieldError();
  });
  $('tip-files-button').addEventListener('click', () => $('tip-files').click());
  $('tip-text').addEventListener('input', clearFieldError);
  $('tip-text').addEventListener('input', () => sealing().catch(() => {}), { once: true });
  $('tip-text').addEventListener('input', () => wantsFollowUp() && startCode(), { once: true });
  $('tip-files').addEventListener('change', () => wantsFollowUp() && startCode());
  $('follow-up-choice').addEventListener('change', () => wantsFollowUp() && startCode());
  $('author-key').addEventListener('change', (event) => {
    const line = $('author-address');
    if (event.target.checked) {
      state.authorKey = newAuthorKey();
      setText(line, 'submit.author_address', { address: state.authorKey.address });
      show(line);
    } else {
      state.authorKey = null;
      show(line, false);
    }
  });
  $('tip-form').addEventListener('submit', submit);
  document.addEventListener('tipledger:lang', renderFiles);
  document.body.dataset.ready = 'true';
}

main();
