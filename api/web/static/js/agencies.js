// Which agency a tip goes to (PROTOCOL.md 16). The submit page lists the agencies that take tips
// now (active, with at least one member to seal to), as GET /v1/agencies reads them from chain,
// the national intake desk first and chosen: it forwards a matter to the competent agency, and
// the referral is on chain. If the list cannot be read, the tip goes to the intake desk (the
// service's default) and the page says nothing it does not know.

import { lang, setPhrases, setText, t } from './i18n.js';
import { $, h, show } from './ui.js';

export const INTAKE = 'intake';
const SLUG = /^[a-z][a-z0-9-]{1,30}$/; // PROTOCOL.md 16.1
const LIST_TIMEOUT_MS = 8000;

/** An agency's name in the page's language, the other language's if it has none. */
export function agencyName(agency) {
  const th = typeof agency?.name_th === 'string' ? agency.name_th.trim() : '';
  const en = typeof agency?.name_en === 'string' ? agency.name_en.trim() : '';
  const name = lang() === 'th' ? th || en : en || th;
  if (name) return name;
  return agency?.id === INTAKE ? t('submit.agency_intake') : t('submit.agency_unnamed', { id: agency?.id });
}

/** The agencies a tip can go to now, intake first, the rest in the chain's order; null if the
 *  service's list cannot be read. */
async function takingTips() {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), LIST_TIMEOUT_MS);
  try {
    const response = await fetch('/v1/agencies', {
      credentials: 'omit',
      cache: 'no-store',
      headers: { Accept: 'application/json' },
      signal: abort.signal,
    });
    if (!response.ok) return null;
    const listed = (await response.json())?.agencies;
    if (!Array.isArray(listed)) return null;
    const open = listed
      .filter((a) => a && SLUG.test(String(a.id)) && a.active === true)
      .filter((a) => Array.isArray(a.members) && a.members.length > 0)
      .map((a) => ({
        id: a.id,
        name_th: String(a.name_th ?? ''),
        name_en: String(a.name_en ?? ''),
        // What the service offers; the page seals only to keys the chain lists (device.js).
        members: a.members.map((m) => ({ encryption_key: String(m?.encryption_key ?? '') })),
      }));
    return [...open.filter((a) => a.id === INTAKE), ...open.filter((a) => a.id !== INTAKE)];
  } catch {
    return null;
  } finally {
    clearTimeout(timer);
  }
}

/** The agency field of the submit page. `chosen()` is the agency to send to ({id, name_th,
 *  name_en}; names empty when unknown), or null when the reporter must still choose one. */
export class AgencyChoice {
  constructor() {
    this.agencies = null; // null: not read; the tip goes to the intake desk
    this.select = $('tip-agency');
  }

  async load() {
    this.agencies = await takingTips();
    if (this.agencies?.length) this.render();
    this.select.addEventListener('change', () => this.clearError());
    document.addEventListener('tipledger:lang', () => this.relabel());
  }

  get intake() {
    return this.agencies?.find((a) => a.id === INTAKE) ?? null;
  }

  render() {
    const field = $('agency-field');
    const several = this.agencies.length > 1;
    if (several) {
      // No intake desk to fall back on: the reporter chooses, nothing is chosen for them.
      const options = this.intake ? [] : [h('option', { value: '', selected: true })];
      for (const agency of this.agencies) {
        options.push(h('option', { value: agency.id, selected: agency.id === INTAKE }));
      }
      this.select.replaceChildren(...options);
    } else {
      $('agency-label').removeAttribute('for'); // the one agency is shown as text
    }
    show(this.select, several);
    show($('agency-only'), !several);
    show(field);
    this.relabel();
  }

  /** Names and the hint in the page's language; the choice stays as it is. */
  relabel() {
    if (!this.agencies?.length) return;
    for (const option of this.select.options) {
      const agency = this.agencies.find((a) => a.id === option.value);
      option.textContent = agency ? agencyName(agency) : t('submit.agency_choose');
    }
    if (this.agencies.length === 1) setPhrases($('agency-only'), agencyName(this.agencies[0]));
    const hint = $('agency-hint');
    const intake = this.intake;
    if (intake) {
      const key = this.agencies.length > 1 ? 'submit.agency_hint' : 'submit.agency_hint_intake_only';
      setText(hint, key, { name: agencyName(intake) });
    }
    show(hint, Boolean(intake));
  }

  chosen() {
    if (!this.agencies?.length) return { id: INTAKE, name_th: '', name_en: '', members: null };
    if (this.agencies.length === 1) return this.agencies[0];
    return this.agencies.find((a) => a.id === this.select.value) ?? null;
  }

  /** Whether the field is on the page (the error can be shown beside it). */
  get shown() {
    return !$('agency-field').hidden;
  }

  /** A message right above the choice, brought to the middle of the screen, as the empty-text
   *  error is; the choice gets focus, so another agency can be picked at once. */
  showError(key, params) {
    const message = $('agency-error');
    setText(message, key, params);
    show(message);
    const control = this.select.hidden ? null : this.select;
    if (control) {
      control.setAttribute('aria-invalid', 'true');
      control.setAttribute('aria-describedby', 'agency-error agency-hint');
    }
    message.scrollIntoView({ block: 'center' });
    control?.focus({ preventScroll: true });
  }

  clearError() {
    show($('agency-error'), false);
    this.select.removeAttribute('aria-invalid');
    this.select.setAttribute('aria-describedby', 'agency-hint');
  }
}
