// Small helpers the pages share: the service's /web-config.json, the tab's session (receipts are
// kept in sessionStorage only: gone when the tab closes), downloads, and DOM building without
// HTML strings (the CSP enforces Trusted Types, so innerHTML is never used).

import { setText } from './i18n.js';

const SESSION_KEY = 'tipledger.current';

let configPromise = null;

/** The service's page configuration: chain id, contract, suggested RPC URL, features. */
export function webConfig() {
  if (!configPromise) {
    configPromise = fetch('/web-config.json', { credentials: 'omit', cache: 'no-store' }).then(
      (r) => {
        if (!r.ok) throw new Error(`/web-config.json: HTTP ${r.status}`);
        return r.json();
      },
    );
  }
  return configPromise;
}

/** What this tab holds: {receipt (JSON object), document (base64), authorKey, followUp}. */
export function loadSession() {
  try {
    const raw = sessionStorage.getItem(SESSION_KEY);
    return raw ? JSON.parse(raw) : null;
  } catch {
    return null;
  }
}

export function saveSession(value) {
  sessionStorage.setItem(SESSION_KEY, JSON.stringify(value));
}

export function clearSession() {
  sessionStorage.removeItem(SESSION_KEY);
}

export function $(id) {
  return document.getElementById(id);
}

export function show(el, visible = true) {
  el.hidden = !visible;
}

/** An element with attributes and children (strings become text nodes). */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === false || v === null || v === undefined) continue;
    if (k === 'i18n') setText(el, v[0], v[1]);
    else if (k === 'className') el.className = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** Offer `data` (string or bytes) as a file download; nothing leaves the browser. */
export function download(filename, data, type = 'application/json') {
  const blob = new Blob([data], { type });
  const url = URL.createObjectURL(blob);
  const a = h('a', { href: url, download: filename, hidden: true });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

/** The text of a chosen file. */
export function readFileText(file) {
  return file.text();
}

export async function readFileBytes(file) {
  return new Uint8Array(await file.arrayBuffer());
}

/** An error box: a title key and a detail line (already translated or plain). */
export function showError(box, key, params) {
  box.replaceChildren();
  box.append(h('p', { i18n: [key, params] }));
  box.hidden = false;
  box.focus?.();
}
