// Thai by default, English one click away. The server renders each page in the language of its
// `?lang=` (so <html lang> is right before any script runs); switching here swaps every
// [data-i18n] text and [data-i18n-attr] attribute in place, so nothing typed is lost.

export const LANGUAGES = ['th', 'en'];
export const LANGUAGE_NAMES = { th: 'ไทย', en: 'English' };
const DEFAULT = 'th';
const dictionaries = {};
let current = LANGUAGES.includes(document.documentElement.lang)
  ? document.documentElement.lang
  : DEFAULT;

export function lang() {
  return current;
}

async function load(code) {
  if (!dictionaries[code]) {
    const response = await fetch(`/web/i18n/${code}.json`, { credentials: 'omit' });
    if (!response.ok) throw new Error(`cannot load the ${code} texts`);
    dictionaries[code] = await response.json();
  }
  return dictionaries[code];
}

/** The text for `key` in the current language, with `{name}` replaced from `params`. */
export function t(key, params = {}) {
  const text = dictionaries[current]?.[key] ?? dictionaries.en?.[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (m, name) => (name in params ? String(params[name]) : m));
}

/** Set an element's text from a key (and keep the key, so a language switch re-translates). */
export function setText(el, key, params) {
  el.dataset.i18n = key;
  if (params && Object.keys(params).length) el.dataset.i18nParams = JSON.stringify(params);
  else delete el.dataset.i18nParams;
  fill(el, t(key, params));
}

/** Set an element's text that is not one of ours (a name read from the chain), its Thai kept
 *  phrase by phrase as ours is; the page sets it again when the language changes. */
export function setPhrases(el, text) {
  delete el.dataset.i18n;
  delete el.dataset.i18nParams;
  fill(el, text);
}

const THAI = /[\u0E00-\u0E7F]/;
const PLAIN_TEXT_ONLY = new Set(['TITLE', 'OPTION', 'TEXTAREA']);

/** Thai is written without spaces between words, and the browser's dictionary breaks lines
 *  inside words it splits (ร่อง|รอย, เจ้า|หน้าที่; Intl.Segmenter splits them the same way).
 *  Thai leaves a space between phrases instead: each phrase is kept whole on a line (an
 *  inline-block, see app.css) and only one wider than the line wraps inside. */
function fill(el, text) {
  if (current !== 'th' || !THAI.test(text) || PLAIN_TEXT_ONLY.has(el.tagName)) {
    el.textContent = text;
    return;
  }
  el.replaceChildren();
  for (const part of text.split(/( +)/)) {
    if (!part) continue;
    if (!THAI.test(part)) {
      el.append(part);
      continue;
    }
    const phrase = document.createElement('span');
    phrase.className = 'phrase';
    phrase.textContent = part;
    el.append(phrase);
  }
}

function apply(root = document) {
  for (const el of root.querySelectorAll('[data-i18n]')) {
    const params = el.dataset.i18nParams ? JSON.parse(el.dataset.i18nParams) : undefined;
    fill(el, t(el.dataset.i18n, params));
  }
  for (const el of root.querySelectorAll('[data-i18n-attr]')) {
    for (const pair of el.dataset.i18nAttr.split(';')) {
      const [attr, key] = pair.split(':');
      if (attr && key) el.setAttribute(attr.trim(), t(key.trim()));
    }
  }
}

/** The URL of a page of this site in the current language. */
export function pageUrl(path) {
  return current === DEFAULT ? path : `${path}?lang=${current}`;
}

function updateLinks() {
  for (const a of document.querySelectorAll('a[data-keep-lang]')) {
    const url = new URL(a.getAttribute('href'), location.href);
    a.setAttribute('href', pageUrl(url.pathname) + url.hash);
  }
  for (const a of document.querySelectorAll('a[data-lang-switch]')) {
    const other = LANGUAGES.find((code) => code !== current);
    a.dataset.langSwitch = other;
    a.setAttribute('lang', other);
    a.setAttribute('hreflang', other);
    a.setAttribute('href', `${location.pathname}?lang=${other}`);
    a.textContent = LANGUAGE_NAMES[other];
  }
}

/** Switch the page to `code` in place; fires `tipledger:lang` on document. */
export async function switchTo(code) {
  if (!LANGUAGES.includes(code)) return;
  await load(code);
  current = code;
  document.documentElement.lang = code;
  apply();
  updateLinks();
  const url = new URL(location.href);
  if (code === DEFAULT) url.searchParams.delete('lang');
  else url.searchParams.set('lang', code);
  history.replaceState(history.state, '', url.pathname + url.search + url.hash);
  document.dispatchEvent(new CustomEvent('tipledger:lang', { detail: { lang: code } }));
}

/** Load the current language's texts and wire the language switch. */
export async function initI18n() {
  await load(current);
  if (current === 'th') apply(); // the server's text, now with its phrases kept whole
  for (const a of document.querySelectorAll('a[data-lang-switch]')) {
    a.addEventListener('click', (event) => {
      event.preventDefault();
      switchTo(a.dataset.langSwitch).catch(() => {
        location.href = a.href; // the server renders the other language
      });
    });
  }
}

// Thailand's time for people ("2 ธ.ค. 2569 เวลา 12:50:41 น."); UTC only where details are shown.
const ZONE = 'Asia/Bangkok';

/** A Unix time as people in Thailand read it, in the current language (Thai: Buddhist era). */
export function formatTime(seconds) {
  const date = new Date(Number(seconds) * 1000);
  const locale = current === 'th' ? 'th-TH' : 'en-GB';
  const day = new Intl.DateTimeFormat(locale, {
    day: 'numeric',
    month: 'short',
    year: 'numeric',
    timeZone: ZONE,
  }).format(date);
  const time = new Intl.DateTimeFormat(locale, {
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
    hourCycle: 'h23',
    timeZone: ZONE,
  }).format(date);
  return t('time.at', { date: day, time });
}

/** A Unix time in UTC, for the details: 2026-12-02 05:50:41 UTC. */
export function formatTimeUtc(seconds) {
  const date = new Date(Number(seconds) * 1000);
  return t('time.utc', { time: date.toISOString().replace('T', ' ').replace(/\.\d+Z$/, '') });
}

/** A byte count for people: 1.2 MB. */
export function formatSize(n) {
  const units = ['B', 'KB', 'MB', 'GB'];
  let value = Number(n);
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  const digits = unit === 0 || value >= 10 ? 0 : 1;
  return `${new Intl.NumberFormat(current === 'th' ? 'th-TH' : 'en-GB', {
    maximumFractionDigits: digits,
  }).format(value)} ${units[unit]}`;
}
