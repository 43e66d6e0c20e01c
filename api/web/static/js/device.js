// What the reporter's device does before anything leaves it (PROTOCOL.md 17): the members' keys
// read from the chain, the tip sealed to a fresh case key granted to each of them, attachments
// sealed to the same case key, chunk by chunk. The service gets the commitment and ciphertexts
// only; the salt, the document and the author stay here and in the receipt.

import { readAgency } from './eth.js';
import { equalBytes, fromHex, toBase64, toHex } from './protocol.js';
import { grantCaseKey, keyId, newCaseKey, sealAttachment, sealTip } from './seal.js';

export const SEALED_FORMAT = 'tipledger-sealed-tip/1';

/** The chain and the service disagree about an agency's keys, or the chain cannot be read: the
 *  page sends nothing. `code` says which (an i18n key suffix). */
export class MemberKeyError extends Error {
  constructor(code, message, params = {}) {
    super(message);
    this.name = 'MemberKeyError';
    this.code = code;
    this.params = params;
  }
}

/**
 * The member keys to seal a tip for `agency` to, as the contract lists them now. `offered` is
 * what the service's /v1/agencies listed ([{encryption_key: '0x…'}], or null when it listed
 * nothing): a key it offers that the chain does not list means the service (or something between)
 * tried to add a reader, and the tip is not sent. `offeredAgencies` names every agency the page
 * offered: all of them are read, so the chain's node learns nothing of which one was chosen.
 */
export async function memberKeys(config, agency, offered, offeredAgencies = [agency.id]) {
  if (!config?.rpc_url || !config?.contract) {
    throw new MemberKeyError('no_chain', 'this service names no chain endpoint to read the agency keys from');
  }
  let onChain;
  try {
    const ids = [...new Set([...offeredAgencies, agency.id])].sort();
    const read = await Promise.all(ids.map((id) => readAgency(config.rpc_url, config.contract, id)));
    onChain = read[ids.indexOf(agency.id)];
  } catch (exc) {
    throw new MemberKeyError('chain_unreachable', `cannot read agency ${agency.id} from the chain: ${exc.message}`);
  }
  if (!onChain.exists || !onChain.active || onChain.members.length === 0) {
    const state = !onChain.exists ? 'unknown' : !onChain.active ? 'inactive' : 'empty';
    throw new MemberKeyError('agency_closed', `the chain lists agency ${agency.id} as ${state}`, { state });
  }
  const listed = onChain.members.map((m) => m.encryptionKey);
  for (const member of offered ?? []) {
    let key;
    try {
      key = fromHex(String(member.encryption_key));
    } catch {
      key = null;
    }
    if (!key || key.length !== 32 || !listed.some((k) => equalBytes(k, key))) {
      const shown = key && key.length === 32 ? toHex(keyId(key)).slice(2) : String(member.encryption_key).slice(0, 20);
      throw new MemberKeyError(
        'key_not_on_chain',
        `the service offered member key ${shown} for agency ${agency.id}, which the chain does not list`,
        { key: shown },
      );
    }
  }
  return listed;
}

/**
 * Seal a tip for `keys`: {body (the sealed tip's JSON object), streams (Blob per attachment)}.
 * `files` are the page's attachment entries ({file, name, ...}) in the document's order;
 * `onProgress(done, total)` counts plaintext bytes sealed.
 */
export async function sealForMembers(keys, { agency, commitment, document, salt, author, files = [], onProgress }) {
  const caseKey = await newCaseKey();
  const envelope = await sealTip(caseKey.publicRaw, { commitment, document, salt, author });
  const grants = [];
  for (const key of keys) grants.push(await grantCaseKey(key, caseKey.privateRaw, caseKey.publicRaw, commitment));
  const total = files.reduce((n, f) => n + f.size, 0);
  let before = 0;
  const streams = [];
  for (let index = 0; index < files.length; index += 1) {
    const offset = before;
    const sealed = await sealAttachment(files[index].file, caseKey.publicRaw, commitment, index, {
      onProgress: (done) => onProgress?.(offset + done, total),
      // The digest the document lists: a file changed since it was hashed is refused here.
      sha256: fromHex(files[index].sha256),
    });
    streams.push(sealed.blob);
    before += files[index].size;
  }
  caseKey.privateRaw.fill(0); // granted: this page needs it no more
  return {
    body: {
      format: SEALED_FORMAT,
      commitment: toHex(commitment),
      agency: agency.id,
      case_key: toHex(caseKey.publicRaw),
      envelope: toBase64(envelope),
      grants: grants.map(toBase64),
      attachments: streams.length,
    },
    streams,
  };
}
