// Verifying a receipt in the browser (PROTOCOL.md section 7), trusting no server: the same steps
// and check names as ledger/core/verify.py and ledger/verification.py. The chain is read straight
// from a JSON-RPC endpoint the user chooses; the TipLedger service is never asked.

import {
  chainId as readChainId,
  isAnchorer,
  maxMergeDelay as readMaxMergeDelay,
  promiseDigest,
  readCheckpoint,
  recoverDigestSigner,
} from './eth.js';
import {
  commitment,
  contentDigest,
  equalBytes,
  fromHex,
  leafHash,
  pathLength,
  rootFromInclusion,
  toHex,
} from './protocol.js';

export const CONTENT_DIGEST = 'content_digest';
export const COMMITMENT = 'commitment';
export const INCLUSION = 'inclusion';
export const PROMISE_SIGNATURE = 'promise_signature';
export const CHAIN_ID = 'chain_id';
export const CHECKPOINT_ROOT = 'checkpoint_root';
export const CHECKPOINT_TIMESTAMP = 'checkpoint_timestamp';
export const PROMISE_SIGNER_ROLE = 'promise_signer_role';
export const MERGE_DELAY = 'merge_delay';

/** A short form of a hex string for messages: 0x12345678...abcd. */
export function short(hexText) {
  return hexText.length <= 14 ? hexText : `${hexText.slice(0, 10)}...${hexText.slice(-4)}`;
}

function check(name, ok, code, params = {}) {
  return { name, ok, code, params };
}

/** Steps 1-3 and the promise signature (no I/O). `document` is bytes or null. */
export async function verifyOffline(receipt, document) {
  const checks = [];
  if (document !== null && document !== undefined) {
    const digest = await contentDigest(document);
    const want = fromHex(receipt.content_digest, 32);
    checks.push(
      equalBytes(digest, want)
        ? check(CONTENT_DIGEST, true, 'digest_ok')
        : check(CONTENT_DIGEST, false, 'digest_bad', {
            got: short(toHex(digest)),
            want: short(receipt.content_digest),
          }),
    );
  }
  const commitmentBytes = fromHex(receipt.commitment, 32);
  const recomputed = await commitment(
    fromHex(receipt.salt, 32),
    fromHex(receipt.content_digest, 32),
    fromHex(receipt.author, 20),
  );
  checks.push(
    equalBytes(recomputed, commitmentBytes)
      ? check(COMMITMENT, true, 'commitment_ok')
      : check(COMMITMENT, false, 'commitment_bad', {
          got: short(toHex(recomputed)),
          want: short(receipt.commitment),
        }),
  );
  if (receipt.inclusion) checks.push(await inclusionCheck(receipt, commitmentBytes));
  if (receipt.promise) {
    const p = receipt.promise;
    try {
      const digest = promiseDigest(receipt.chain_id, receipt.contract, commitmentBytes, p.received_at);
      const signer = recoverDigestSigner(digest, fromHex(p.signature, 65));
      checks.push(
        signer === p.signer
          ? check(PROMISE_SIGNATURE, true, 'promise_ok', { signer })
          : check(PROMISE_SIGNATURE, false, 'promise_bad', { got: signer, signer: p.signer }),
      );
    } catch (exc) {
      checks.push(check(PROMISE_SIGNATURE, false, 'promise_malformed', { error: exc.message }));
    }
  }
  return checks;
}

async function inclusionCheck(receipt, commitmentBytes) {
  const inc = receipt.inclusion;
  const index = inc.leaf_index;
  const size = inc.tree_size;
  const params = { index: String(index + 1n), size: String(size) }; // entries counted from 1
  if (index >= size) return check(INCLUSION, false, 'inclusion_outside', params);
  const proof = inc.proof.map((h) => fromHex(h, 32));
  const computed = await rootFromInclusion(await leafHash(commitmentBytes), index, size, proof);
  if (computed === null) {
    return check(INCLUSION, false, 'inclusion_length', {
      ...params,
      have: String(proof.length),
      need: String(pathLength(index, size)),
    });
  }
  if (!equalBytes(computed, fromHex(inc.root_hash, 32))) {
    return check(INCLUSION, false, 'inclusion_root', {
      ...params,
      got: short(toHex(computed)),
      want: short(inc.root_hash),
    });
  }
  return check(INCLUSION, true, 'inclusion_ok', params);
}

/**
 * The full verdict: the offline checks, then the chain's answers from `rpcUrl` (step 4 and the
 * rest of step 5). Never throws for a bad receipt; a chain that cannot be read leaves the
 * verdict incomplete (`chainError`), never valid.
 */
export async function verifyReceipt(receipt, document, rpcUrl, { now } = {}) {
  const checks = await verifyOffline(receipt, document);
  const warnings = [];
  const unchecked = [];
  let chainError = null;
  const inc = receipt.inclusion;
  const promise = receipt.promise;
  try {
    if (!rpcUrl) throw new Error('no JSON-RPC endpoint given');
    const id = await readChainId(rpcUrl);
    const sameChain = id === receipt.chain_id;
    checks.push(
      sameChain
        ? check(CHAIN_ID, true, 'chain_ok', { id: String(id) })
        : check(CHAIN_ID, false, 'chain_bad', { got: String(id), want: String(receipt.chain_id) }),
    );
    if (!sameChain) {
      if (inc) unchecked.push(CHECKPOINT_ROOT, CHECKPOINT_TIMESTAMP);
      if (promise) unchecked.push(PROMISE_SIGNER_ROLE, MERGE_DELAY);
    } else {
      if (inc) {
        const cp = await readCheckpoint(rpcUrl, receipt.contract, inc.tree_size);
        checks.push(...checkpointChecks(receipt, cp));
      }
      if (promise) {
        const anchorer = await isAnchorer(
          rpcUrl,
          receipt.contract,
          promise.signer,
          inc ? inc.block_number : undefined,
        );
        checks.push(
          anchorer
            ? check(PROMISE_SIGNER_ROLE, true, 'role_ok', { signer: promise.signer })
            : check(PROMISE_SIGNER_ROLE, false, 'role_bad', { signer: promise.signer }),
        );
        const delay = await readMaxMergeDelay(rpcUrl, receipt.contract);
        const deadline = promise.received_at + delay;
        const nowSeconds = BigInt(now ?? Math.floor(Date.now() / 1000));
        if (inc && inc.block_timestamp > deadline) {
          warnings.push({
            code: 'late',
            params: { late: String(inc.block_timestamp - promise.received_at), delay: String(delay) },
          });
        } else if (!inc && nowSeconds > deadline) {
          warnings.push({
            code: 'overdue',
            params: { late: String(nowSeconds - promise.received_at), delay: String(delay) },
          });
        }
      }
    }
  } catch (exc) {
    chainError = exc.message || String(exc);
  }
  const pending = !inc;
  const failures = checks.filter((c) => !c.ok);
  const ok = !pending && failures.length === 0 && chainError === null;
  const documentChecked = checks.some((c) => c.name === CONTENT_DIGEST);
  let status;
  if (failures.length) status = 'invalid';
  else if (chainError !== null) status = 'incomplete';
  else if (pending) status = 'pending';
  else status = 'valid';
  return {
    status,
    ok,
    pending,
    checks,
    warnings,
    unchecked,
    chainError,
    documentChecked,
    provenTime: ok ? inc.block_timestamp : null,
  };
}

function checkpointChecks(receipt, cp) {
  const inc = receipt.inclusion;
  const size = String(inc.tree_size);
  if (cp.timestamp === 0n) {
    return [
      check(CHECKPOINT_ROOT, false, 'root_never', { size, contract: receipt.contract }),
      check(CHECKPOINT_TIMESTAMP, false, 'time_zero', { size }),
    ];
  }
  const sameRoot = equalBytes(cp.rootHash, fromHex(inc.root_hash, 32));
  const sameTime = cp.timestamp === inc.block_timestamp;
  return [
    sameRoot
      ? check(CHECKPOINT_ROOT, true, 'root_ok', { size })
      : check(CHECKPOINT_ROOT, false, 'root_bad', {
          size,
          got: short(toHex(cp.rootHash)),
          want: short(inc.root_hash),
        }),
    sameTime
      ? check(CHECKPOINT_TIMESTAMP, true, 'time_ok', { time: String(cp.timestamp) })
      : check(CHECKPOINT_TIMESTAMP, false, 'time_bad', {
          size,
          got: String(cp.timestamp),
          want: String(inc.block_timestamp),
        }),
  ];
}
