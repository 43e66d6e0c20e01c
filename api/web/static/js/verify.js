// Verifying a receipt in the browser (PROTOCOL.md sections 7 and 18), trusting no server: the
// same steps and check names as ledger/core/verify.py. The chain is read straight from a
// JSON-RPC endpoint the user chooses, the log's tiles from the service or a mirror; what is
// asked is the same for every receipt (uniform verification), apart from the tile index
// leaf_index / 256 and the block window holding the receipt's anchor:
//   eth_chainId; latest(); eth_blockNumber; one eth_getLogs over the aligned window of
//   BLOCK_WINDOW blocks; the tiles for (leaf, latest size); hasRole at the window's end;
//   maxMergeDelay().

import {
  blockNumber as readBlockNumber,
  chainId as readChainId,
  decodeLog,
  eventSpec,
  getLogs,
  isAnchorer,
  maxMergeDelay as readMaxMergeDelay,
  promiseDigest,
  readLatest,
  recoverDigestSigner,
  ANCHORER_ROLE,
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
import { inclusionFromLog, TileError } from './tiles.js';

export const CONTENT_DIGEST = 'content_digest';
export const COMMITMENT = 'commitment';
export const INCLUSION = 'inclusion';
export const PROMISE_SIGNATURE = 'promise_signature';
export const CHAIN_ID = 'chain_id';
export const CHECKPOINT_ROOT = 'checkpoint_root';
export const CHECKPOINT_TIMESTAMP = 'checkpoint_timestamp';
export const PROMISE_SIGNER_ROLE = 'promise_signer_role';
export const MERGE_DELAY = 'merge_delay';
export const LATEST_INCLUSION = 'latest_inclusion';

/** Blocks per anchoring window (about 9.1 days at 12 s a block): a verifier asks for the events
 * of the whole aligned window holding its receipt's block, so it reveals only the window. */
export const BLOCK_WINDOW = 65536n;

const ANCHORED = eventSpec('Anchored(uint64 indexed treeSize, bytes32 rootHash, uint64 timestamp)');
const ROLE_EVENT = '(bytes32 indexed role, address indexed account, address indexed sender)';
const ROLE_GRANTED = eventSpec(`RoleGranted${ROLE_EVENT}`);
const ROLE_REVOKED = eventSpec(`RoleRevoked${ROLE_EVENT}`);

/** The aligned window [from, to] of BLOCK_WINDOW blocks holding `block`, clamped to `head`. */
export function blockWindow(block, head) {
  const from = (BigInt(block) / BLOCK_WINDOW) * BLOCK_WINDOW;
  const end = from + BLOCK_WINDOW - 1n;
  return { from, to: end < BigInt(head) ? end : BigInt(head) };
}

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
 * The full verdict: the offline checks, then the chain's answers from `rpcUrl` and the log's
 * tiles from `logUrl` (step 4 and the rest of step 5, the uniform way). Never throws for a bad
 * receipt; a chain or log that cannot be read leaves the verdict incomplete (`chainError`, and
 * `logError` when it was the log), never valid.
 */
export async function verifyReceipt(receipt, document, rpcUrl, { now, logUrl } = {}) {
  const checks = await verifyOffline(receipt, document);
  const warnings = [];
  const unchecked = [];
  let chainError = null;
  let logError = null;
  let tileBytes = 0;
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
      if (inc) unchecked.push(LATEST_INCLUSION, CHECKPOINT_ROOT, CHECKPOINT_TIMESTAMP);
      if (promise) unchecked.push(PROMISE_SIGNER_ROLE, MERGE_DELAY);
    } else {
      let window = null;
      let events = [];
      if (inc) {
        const latest = await readLatest(rpcUrl, receipt.contract);
        const head = await readBlockNumber(rpcUrl);
        if (head < inc.block_number) {
          throw new Error(
            `the node's newest block is ${head}, before the receipt's block ${inc.block_number}: ` +
              'is this the chain the receipt was anchored on?',
          );
        }
        window = blockWindow(inc.block_number, head);
        // The tiles and the window's events at once: neither depends on the other's answer.
        const [logCheck, logs] = await Promise.all([
          latestInclusionCheck(receipt, latest, logUrl).catch((exc) => {
            logError = exc.message || String(exc);
            return null;
          }),
          getLogs(
            rpcUrl,
            receipt.contract,
            [[ANCHORED.topic, ROLE_GRANTED.topic, ROLE_REVOKED.topic]],
            window.from,
            window.to,
          ),
        ]);
        if (logError !== null) throw new Error(logError);
        tileBytes = logCheck.bytes;
        checks.push(logCheck.check);
        events = logs;
        checks.push(...anchoredChecks(receipt, events, window));
      }
      if (promise) {
        const anchorer = await anchorerAtReceipt(rpcUrl, receipt, events, window);
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
    logError,
    tileBytes,
    documentChecked,
    provenTime: ok ? inc.block_timestamp : null,
  };
}

/**
 * Is the receipt's entry in the chain's latest checkpoint, by the log's tiles? The receipt's
 * own checkpoint is older or the same; the contract accepts only consistent checkpoints, so
 * inclusion in the latest one is inclusion in the log the receipt's checkpoint began.
 * Throws (an incomplete verdict) when the tiles cannot be fetched.
 */
async function latestInclusionCheck(receipt, latest, logUrl) {
  const inc = receipt.inclusion;
  const params = { index: String(inc.leaf_index + 1n), size: String(latest.treeSize) };
  if (latest.treeSize < inc.tree_size) {
    const behind = { size: String(inc.tree_size), latest: String(latest.treeSize) };
    return { check: check(LATEST_INCLUSION, false, 'log_behind', behind), bytes: 0 };
  }
  if (inc.leaf_index >= latest.treeSize) {
    return { check: check(LATEST_INCLUSION, false, 'inclusion_outside', params), bytes: 0 };
  }
  if (!logUrl) throw new Error('no log address given');
  const leaf = await leafHash(fromHex(receipt.commitment, 32));
  let found;
  try {
    found = await inclusionFromLog(logUrl, leaf, inc.leaf_index, latest.treeSize, latest.rootHash);
  } catch (exc) {
    if (exc instanceof TileError) {
      return { check: check(LATEST_INCLUSION, false, 'log_malformed', { error: exc.message }), bytes: 0 };
    }
    throw exc;
  }
  if (!found.ok) {
    const bad = { ...params, got: short(toHex(found.computed)), want: short(toHex(latest.rootHash)) };
    return { check: check(LATEST_INCLUSION, false, 'log_bad', bad), bytes: found.bytes };
  }
  return { check: check(LATEST_INCLUSION, true, 'log_ok', params), bytes: found.bytes };
}

/** The receipt's checkpoint against the Anchored event for its size in the block window. */
function anchoredChecks(receipt, logs, window) {
  const inc = receipt.inclusion;
  const size = String(inc.tree_size);
  const event = logs
    .filter((log) => log.topics?.[0] === ANCHORED.topic)
    .map((log) => decodeLog(ANCHORED, log))
    .find((e) => e.treeSize === inc.tree_size);
  if (!event) {
    const params = { size, from: String(window.from), to: String(window.to), contract: receipt.contract };
    return [
      check(CHECKPOINT_ROOT, false, 'root_never', params),
      check(CHECKPOINT_TIMESTAMP, false, 'time_zero', { size }),
    ];
  }
  const sameRoot = equalBytes(event.rootHash, fromHex(inc.root_hash, 32));
  const sameTime = event.timestamp === inc.block_timestamp;
  return [
    sameRoot
      ? check(CHECKPOINT_ROOT, true, 'root_ok', { size })
      : check(CHECKPOINT_ROOT, false, 'root_bad', {
          size,
          got: short(toHex(event.rootHash)),
          want: short(inc.root_hash),
        }),
    sameTime
      ? check(CHECKPOINT_TIMESTAMP, true, 'time_ok', { time: String(event.timestamp) })
      : check(CHECKPOINT_TIMESTAMP, false, 'time_bad', {
          size,
          got: String(event.timestamp),
          want: String(inc.block_timestamp),
        }),
  ];
}

/**
 * Did the promise's signer hold ANCHORER_ROLE at the receipt's block? Asked the uniform way:
 * hasRole at the end of the window, then undone by the first grant or revocation for that key
 * after the receipt's block in the window's events (OpenZeppelin emits one only on a change).
 * A pending receipt has no block: hasRole now.
 */
async function anchorerAtReceipt(rpcUrl, receipt, logs, window) {
  const signer = receipt.promise.signer;
  if (!window) return isAnchorer(rpcUrl, receipt.contract, signer);
  const role = toHex(ANCHORER_ROLE);
  for (const log of logs) {
    const topic = log.topics?.[0];
    if (topic !== ROLE_GRANTED.topic && topic !== ROLE_REVOKED.topic) continue;
    const spec = topic === ROLE_GRANTED.topic ? ROLE_GRANTED : ROLE_REVOKED;
    const e = decodeLog(spec, log);
    if (e.blockNumber <= receipt.inclusion.block_number) continue;
    if (toHex(e.role) !== role || e.account !== signer) continue;
    return spec === ROLE_REVOKED; // revoked later: held it then; granted later: did not
  }
  return isAnchorer(rpcUrl, receipt.contract, signer, window.to);
}
