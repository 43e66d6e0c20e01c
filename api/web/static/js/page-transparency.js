// How fast each agency acts on its tips, worked out in this browser from the contract's event
// log read straight from a JSON-RPC node: the service is asked nothing but this page and its
// /web-config.json, so anyone can check the figures against any node of the chain. The
// definitions are the audit's (ledger/audit/agencies.py, ledger/audit/deadlines.py).

import { formatTime, initI18n, lang, setPhrases, setText, t } from './i18n.js';
import { chainId, decodeLog, eventSpec, getLogs, latestBlock, routingCounts } from './eth.js';
import { ProtocolError } from './protocol.js';
import { $, h, show, showError, webConfig } from './ui.js';

const DAY = 86400;
const OUTCOME_STATUSES = new Set([2, 3, 4, 5]); // substantiated, unsubstantiated, referred, closed

// The contract's events the figures come from, as declared in contracts/TipLedger.sol.
const EVENTS = [
  'Anchored(uint64 indexed treeSize, bytes32 rootHash, uint64 timestamp)',
  'Routed(uint64 indexed treeSize, bytes32 routingRoot, uint64 previousSize, bytes counts)',
  'CaseOpened(bytes32 indexed commitment, bytes32 indexed agency, uint64 treeSize, uint64 index)',
  'Referred(bytes32 indexed commitment, bytes32 indexed fromAgency, bytes32 indexed toAgency, bool keepAccess, address by, uint64 timestamp)',
  'ReviewRecorded(bytes32 indexed commitment, bytes32 indexed agency, uint8 status, bytes32 noteDigest, address indexed reviewer, uint64 timestamp)',
  'AgencyAdded(bytes32 indexed agency, string nameTh, string nameEn)',
  'AgencyActiveSet(bytes32 indexed agency, bool active)',
  'MemberAdded(bytes32 indexed agency, address indexed member, bytes32 encryptionKey)',
  'MemberRemoved(bytes32 indexed agency, address indexed member)',
].map(eventSpec);
const BY_TOPIC = new Map(EVENTS.map((spec) => [spec.topic, spec]));

const hex = (bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');

/** The slug an agency id spells (PROTOCOL 16.1), or its hex if it spells none. */
function agencySlug(raw) {
  let end = raw.length;
  while (end > 0 && raw[end - 1] === 0) end -= 1;
  const text = String.fromCharCode(...raw.subarray(0, end));
  return /^[a-z][a-z0-9-]{1,30}$/.test(text) ? text : '0x' + hex(raw);
}

// --- reading the chain -------------------------------------------------------------------------

/**
 * Every event the figures need, decoded, in chain order, as of the latest block. A Routed
 * event names agencies by index, their position in the order they were added: its packed
 * counts become `agencies` (ids) and `counts` side by side.
 */
async function readHistory(rpcUrl, contract, fromBlock) {
  const head = await latestBlock(rpcUrl);
  // From the block the contract was deployed in: nothing of it is older (a public node would
  // refuse, or page through, a range from block 0).
  const logs = await getLogs(rpcUrl, contract, [[...BY_TOPIC.keys()]], fromBlock, head.number);
  const events = [];
  const added = []; // agency ids by index
  for (const log of logs) {
    const spec = BY_TOPIC.get(log.topics?.[0]);
    if (!spec) continue;
    const event = { name: spec.name, ...decodeLog(spec, log) };
    if (event.name === 'AgencyAdded') added.push(event.agency);
    if (event.name === 'Routed') {
      const entries = routingCounts(event.counts);
      for (const { index } of entries) {
        // The contract routes only to agencies already added: past them, the log is not whole.
        if (index >= added.length) {
          throw new ProtocolError(`Routed names agency ${index}, but ${added.length} were added`);
        }
      }
      event.agencies = entries.map(({ index }) => added[index]);
      event.counts = entries.map(({ count }) => count);
    }
    events.push(event);
  }
  return { head, events };
}

// --- the figures (pure) ------------------------------------------------------------------------

function median(values) {
  if (!values.length) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

function timeStats(values) {
  // reduce, not Math.max(...values): a busy agency's cases would overflow the argument list
  const worst = values.reduce((a, b) => (b > a ? b : a), -Infinity);
  return { count: values.length, median: median(values), worst: values.length ? worst : null };
}

/**
 * Per agency, in the order they were added: tips routed to it, cases opened, referrals in and
 * out, time from anchor to its first response (first review, or referral away) and to its
 * outcome (a review with status 2..5, or referral away), and per deadline how many of its
 * routed tips whose deadline has passed were not answered in time (unopened ones included).
 * `now` is the latest block's time; deadlines are in seconds.
 */
function agencyFigures(events, now, ackLimit, outcomeLimit) {
  const agencies = new Map(); // agency hex -> figures
  const agency = (raw) => {
    const key = hex(raw);
    if (!agencies.has(key)) {
      agencies.set(key, {
        id: raw,
        slug: agencySlug(raw),
        nameTh: '',
        nameEn: '',
        active: true,
        members: new Set(),
        received: 0,
        opened: 0,
        referredIn: 0,
        referredOut: 0,
        first: [],
        outcome: [],
        late: { ack: { due: 0, late: 0, open: 0 }, outcome: { due: 0, late: 0, open: 0 } },
      });
    }
    return agencies.get(key);
  };
  const anchoredAt = new Map(); // tree size -> anchor time
  const openedAt = new Map(); // commitment hex -> tree size of its checkpoint
  const batchCases = new Map(); // `${agency}:${treeSize}` -> commitments routed there, opened
  const firstAt = new Map(); // `${agency}:${commitment}` -> first response time
  const outcomeAt = new Map();
  const routed = [];
  const earliest = (map, key, time) => {
    if (!map.has(key) || time < map.get(key)) map.set(key, time);
  };
  for (const e of events) {
    switch (e.name) {
      case 'AgencyAdded':
        Object.assign(agency(e.agency), { nameTh: e.nameTh, nameEn: e.nameEn, active: true });
        break;
      case 'AgencyActiveSet':
        agency(e.agency).active = e.active;
        break;
      case 'MemberAdded':
        agency(e.agency).members.add(e.member);
        break;
      case 'MemberRemoved':
        agency(e.agency).members.delete(e.member);
        break;
      case 'Anchored':
        // the first anchoring of a size is when the chain first attested it
        if (!anchoredAt.has(Number(e.treeSize))) {
          anchoredAt.set(Number(e.treeSize), Number(e.timestamp));
        }
        break;
      case 'Routed':
        routed.push(e);
        e.agencies.forEach((raw, i) => {
          agency(raw).received += Number(e.counts[i]);
        });
        break;
      case 'CaseOpened': {
        const c = hex(e.commitment);
        if (openedAt.has(c)) break; // a case is opened once; the first is its routing
        openedAt.set(c, Number(e.treeSize));
        agency(e.agency).opened += 1;
        const key = `${hex(e.agency)}:${Number(e.treeSize)}`;
        if (!batchCases.has(key)) batchCases.set(key, []);
        batchCases.get(key).push(c);
        break;
      }
      case 'ReviewRecorded': {
        agency(e.agency);
        const key = `${hex(e.agency)}:${hex(e.commitment)}`;
        earliest(firstAt, key, Number(e.timestamp));
        if (OUTCOME_STATUSES.has(Number(e.status))) earliest(outcomeAt, key, Number(e.timestamp));
        break;
      }
      case 'Referred': {
        agency(e.fromAgency).referredOut += 1;
        agency(e.toAgency).referredIn += 1;
        const key = `${hex(e.fromAgency)}:${hex(e.commitment)}`;
        earliest(firstAt, key, Number(e.timestamp)); // referring a tip on is acting on it
        earliest(outcomeAt, key, Number(e.timestamp));
        break;
      }
      default:
        break;
    }
  }
  // Times from the anchor of the tip's checkpoint, for every tip the agency acted on.
  for (const [measure, times] of [
    ['first', firstAt],
    ['outcome', outcomeAt],
  ]) {
    for (const [key, time] of times) {
      const [who, c] = key.split(':');
      const start = anchoredAt.get(openedAt.get(c));
      if (start !== undefined) agencies.get(who)[measure].push(Math.max(0, time - start));
    }
  }
  // Past deadline: per batch whose deadline has passed, its tips not answered in time.
  for (const e of routed) {
    const start = anchoredAt.get(Number(e.treeSize));
    if (start === undefined) continue;
    e.agencies.forEach((raw, i) => {
      const fig = agency(raw);
      const count = Number(e.counts[i]);
      const cases = batchCases.get(`${hex(raw)}:${Number(e.treeSize)}`) || [];
      for (const [measure, limit, times] of [
        ['ack', ackLimit, firstAt],
        ['outcome', outcomeLimit, outcomeAt],
      ]) {
        const deadline = start + limit;
        if (deadline >= now) continue; // not due yet
        const answered = cases
          .map((c) => times.get(`${hex(raw)}:${c}`))
          .filter((at) => at !== undefined);
        const record = fig.late[measure];
        record.due += count;
        record.late += Math.max(0, count - answered.filter((at) => at <= deadline).length);
        record.open += Math.max(0, count - answered.length);
      }
    });
  }
  return [...agencies.values()].map((fig) => ({
    ...fig,
    members: fig.members.size,
    first: timeStats(fig.first),
    outcome: timeStats(fig.outcome),
  }));
}

// --- showing them ------------------------------------------------------------------------------

function locale() {
  return lang() === 'th' ? 'th-TH' : 'en-GB';
}

function number(value, digits = 0) {
  return new Intl.NumberFormat(locale(), { maximumFractionDigits: digits }).format(value);
}

function counted(key, n, digits) {
  const form = new Intl.PluralRules(lang() === 'th' ? 'th-TH' : 'en-GB').select(n);
  return t(`transparency.${key}_${form === 'one' ? 'one' : 'other'}`, { n: number(n, digits) });
}

/** A duration for people: seconds, minutes, hours or days, whichever reads best. */
function formatDuration(seconds) {
  if (seconds < 60) return counted('seconds', Math.round(seconds));
  if (seconds < 3600) return counted('minutes', Math.round(seconds / 60));
  if (seconds < DAY) return counted('hours', Math.round((seconds / 3600) * 10) / 10, 1);
  return counted('days', Math.round((seconds / DAY) * 10) / 10, 1);
}

function agencyName(fig) {
  return (lang() === 'th' ? fig.nameTh || fig.nameEn : fig.nameEn || fig.nameTh) || fig.slug;
}

/** A text node set for people: Thai kept whole phrase by phrase (see i18n.js). */
function words(tag, attrs, text) {
  const el = h(tag, attrs);
  setPhrases(el, text);
  return el;
}

/** A count in a tile: its label and the number (data-value: the number itself). */
function count(list, key, value) {
  list.append(
    h(
      'div',
      {},
      h('dt', { i18n: [key] }),
      h('dd', { 'data-figure': key.replace('transparency.fig_', ''), 'data-value': value }, number(value)),
    ),
  );
}

function timesText(stats) {
  if (!stats.count) return t('transparency.no_data');
  return t('transparency.fig_times', {
    median: formatDuration(stats.median),
    worst: formatDuration(stats.worst),
    count: number(stats.count),
  });
}

function lateText({ due, late, open }, withOpen = false) {
  if (!due) return t('transparency.none_due');
  const text = t('transparency.late_value', { late: number(late), due: number(due) });
  return withOpen && open ? `${text} ${t('transparency.late_open', { open: number(open) })}` : text;
}

function agencyCard(fig, limits) {
  const counts = h('dl', { className: 'agency-counts' });
  count(counts, 'transparency.fig_received', fig.received);
  count(counts, 'transparency.fig_opened', fig.opened);
  count(counts, 'transparency.fig_referred_in', fig.referredIn);
  count(counts, 'transparency.fig_referred_out', fig.referredOut);
  const list = h('dl', { className: 'facts agency-facts' });
  for (const [key, stats] of [
    ['transparency.fig_first', fig.first],
    ['transparency.fig_outcome', fig.outcome],
  ]) {
    const dd = words('dd', { 'data-figure': key.replace('transparency.fig_', '') }, timesText(stats));
    Object.assign(dd.dataset, {
      count: String(stats.count),
      median: String(stats.median ?? ''),
      worst: String(stats.worst ?? ''),
    });
    list.append(h('dt', { i18n: [key] }), dd);
  }
  for (const [measure, key, limit] of [
    ['ack', 'transparency.fig_late_first', limits.ack],
    ['outcome', 'transparency.fig_late_outcome', limits.outcome],
  ]) {
    const late = fig.late[measure];
    const dd = words('dd', { 'data-figure': `late_${measure}` }, lateText(late, true));
    Object.assign(dd.dataset, { due: String(late.due), late: String(late.late), open: String(late.open) });
    list.append(h('dt', { i18n: [key, { deadline: formatDuration(limit) }] }), dd);
  }
  const heading = words('h3', { id: `agency-${fig.slug}-name` }, agencyName(fig));
  return h(
    'article',
    { className: 'card agency', 'data-agency': fig.slug, 'aria-labelledby': heading.id },
    heading,
    h(
      'p',
      { className: 'hint agency-meta' },
      h('span', { i18n: ['transparency.agency_id', { id: fig.slug }] }),
      fig.active ? null : h('span', { className: 'tag', i18n: ['transparency.inactive'] }),
      h('span', { i18n: ['transparency.members', { count: number(fig.members) }] }),
    ),
    counts,
    list,
  );
}

/** Bars of a median time per agency against a deadline (the marker), as an HTML figure. */
function durationChart(id, titleKey, figures, measure, limit) {
  const scale = Math.max(limit, ...figures.map((fig) => fig[measure].median ?? 0)) * 1.1;
  const rows = figures.map((fig) => {
    const value = fig[measure].median;
    const track = h('div', { className: 'bar-track', 'aria-hidden': 'true' });
    const marker = h('span', { className: 'bar-marker' });
    marker.style.left = `${(100 * limit) / scale}%`;
    if (value !== null) {
      const bar = h('span', { className: value > limit ? 'bar over' : 'bar' });
      bar.style.width = `${Math.max(1, (100 * value) / scale)}%`;
      track.append(bar);
    }
    track.append(marker);
    return h(
      'li',
      { 'data-agency': fig.slug },
      words('span', { className: 'bar-label' }, agencyName(fig)),
      track,
      words(
        'span',
        { className: 'bar-value' },
        value === null ? t('transparency.no_data') : formatDuration(value),
      ),
    );
  });
  return h(
    'figure',
    { className: 'chart', id, 'aria-labelledby': `${id}-title` },
    h('figcaption', { id: `${id}-title` }, h('strong', { i18n: [titleKey] })),
    h('p', { className: 'hint', i18n: ['transparency.chart_marker', { deadline: formatDuration(limit) }] }),
    h('ul', { className: 'bars' }, ...rows),
  );
}

/** Per agency, two bars: of the tips due, the share answered in time and the share past. */
function lateChart(id, figures, limits) {
  const rows = figures.map((fig) => {
    const parts = [];
    for (const [measure, key] of [
      ['ack', 'transparency.late_first'],
      ['outcome', 'transparency.late_outcome'],
    ]) {
      const { due, late } = fig.late[measure];
      const track = h('div', { className: 'bar-track', 'aria-hidden': 'true' });
      if (due) {
        const ok = h('span', { className: 'bar' });
        const over = h('span', { className: 'bar over' });
        ok.style.width = `${(100 * (due - late)) / due}%`;
        over.style.width = `${(100 * late) / due}%`;
        track.append(ok, over);
      }
      parts.push(
        h(
          'div',
          { className: 'bar-part', 'data-measure': measure },
          h('span', { className: 'bar-sub', i18n: [key, { deadline: formatDuration(limits[measure]) }] }),
          track,
          words('span', { className: 'bar-value' }, lateText(fig.late[measure])),
        ),
      );
    }
    const label = words('span', { className: 'bar-label' }, agencyName(fig));
    return h('li', { 'data-agency': fig.slug }, label, ...parts);
  });
  return h(
    'figure',
    { className: 'chart', id, 'aria-labelledby': `${id}-title` },
    h('figcaption', { id: `${id}-title` }, h('strong', { i18n: ['transparency.chart_late'] })),
    h('p', { className: 'hint', i18n: ['transparency.chart_late_hint'] }),
    h('ul', { className: 'bars' }, ...rows),
  );
}

// --- the page ----------------------------------------------------------------------------------

const state = { config: {}, limits: null, result: null };

/** What is known before the chain answers: the deadlines, the contract and the chain. */
function renderSettings() {
  const { limits } = state;
  setText($('counted-deadlines'), 'transparency.counted_deadlines', {
    ack: formatDuration(limits.ack),
    outcome: formatDuration(limits.outcome),
  });
  const facts = $('source-facts');
  facts.replaceChildren();
  const fact = (key, value) => facts.append(h('dt', { i18n: [key] }), h('dd', { className: 'mono' }, value));
  fact('verify.fact_contract', state.config.contract || '—');
  fact('verify.fact_chain', String(state.config.chain_id ?? '—'));
  return fact;
}

function render() {
  const { limits, result } = state;
  const fact = renderSettings();
  if (!result) return;
  const { head, figures } = result;
  fact('transparency.fact_block', String(head.number));
  setText($('transparency-state'), 'transparency.as_of', {
    time: formatTime(head.timestamp),
    block: String(head.number),
  });
  $('charts').replaceChildren(
    durationChart('chart-first', 'transparency.chart_first', figures, 'first', limits.ack),
    durationChart('chart-outcome', 'transparency.chart_outcome', figures, 'outcome', limits.outcome),
    lateChart('chart-late', figures, limits),
  );
  $('agencies').replaceChildren(...figures.map((fig) => agencyCard(fig, limits)));
  show($('agencies-empty'), figures.length === 0);
  show($('transparency-charts'), figures.length > 0);
  show($('transparency-agencies'));
}

async function load() {
  document.body.dataset.state = 'loading'; // set before any wait: a reload is seen at once
  const errorBox = $('transparency-error');
  errorBox.hidden = true;
  const rpcUrl = $('transparency-rpc').value.trim();
  const button = $('transparency-reload');
  button.disabled = true;
  setText($('transparency-state'), 'transparency.loading');
  show($('transparency-state'));
  try {
    if (!rpcUrl || !state.config.contract) throw new NoSource();
    const got = await chainId(rpcUrl);
    if (state.config.chain_id !== undefined && got !== BigInt(state.config.chain_id)) {
      throw new WrongChain(got);
    }
    const from = Number.isSafeInteger(state.config.deploy_block) && state.config.deploy_block > 0
      ? BigInt(state.config.deploy_block)
      : 0n;
    const { head, events } = await readHistory(rpcUrl, state.config.contract, from);
    const now = Number(head.timestamp);
    state.result = { head, figures: agencyFigures(events, now, state.limits.ack, state.limits.outcome) };
    document.body.dataset.state = 'loaded';
  } catch (exc) {
    state.result = null;
    document.body.dataset.state = 'error';
    show($('transparency-charts'), false);
    show($('transparency-agencies'), false);
    show($('transparency-state'), false);
    if (exc instanceof NoSource) showError(errorBox, 'transparency.no_rpc');
    else if (exc instanceof WrongChain) {
      showError(errorBox, 'transparency.wrong_chain', {
        got: String(exc.got),
        want: String(state.config.chain_id),
      });
    } else showError(errorBox, 'transparency.error', { detail: exc.message || String(exc) });
  } finally {
    button.disabled = false;
  }
  render();
}

class NoSource extends Error {}

class WrongChain extends Error {
  constructor(got) {
    super(`chain ${got}`);
    this.got = got;
  }
}

function deadlineSeconds(attribute, fallback) {
  const value = Number($('main').dataset[attribute]);
  return Math.round((Number.isFinite(value) && value > 0 ? value : fallback) * DAY);
}

async function main() {
  await initI18n();
  state.limits = {
    ack: deadlineSeconds('deadlineAckDays', 15),
    outcome: deadlineSeconds('deadlineOutcomeDays', 90),
  };
  try {
    state.config = await webConfig();
  } catch {
    // no suggestion: the user types a node address
  }
  $('transparency-rpc').value = state.config.rpc_url || '';
  renderSettings();
  $('source-form').addEventListener('submit', (event) => {
    event.preventDefault();
    load();
  });
  document.addEventListener('tipledger:lang', render);
  await load();
  document.body.dataset.ready = 'true';
}

main();
