/**
 * HTML form discovery and the form data set a browser would submit (HTML "constructing the entry list"):
 * enabled named controls, checked checkboxes/radios only, selected options, textarea text, and controls outside
 * the form that name it with `form="<id>"`. Submit buttons count only as the submitter.
 */
import type { HTMLElement } from 'node-html-parser';
import { ConformanceError } from '../errors.ts';

export interface FormField {
  name: string;
  value: string;
  /** `input` type (lower-case), `select`, `textarea`. */
  type: string;
}

export interface FormSubmitter {
  name: string | undefined;
  value: string;
  /** `formaction` resolved against the page, when the button has one. */
  formAction: string | undefined;
  formMethod: 'GET' | 'POST' | undefined;
  text: string;
}

export interface FormInfo {
  /** Position among the page's forms. */
  index: number;
  id: string | undefined;
  name: string | undefined;
  /** Absolute URL (the page URL when the form has no action). */
  action: string;
  method: 'GET' | 'POST';
  enctype: string;
  /** The values the browser would submit if nothing were typed, in document order. */
  fields: FormField[];
  submitters: FormSubmitter[];
  element: HTMLElement;
}

/** Field values for `submitForm`: a string or several values replace the defaults of that name; null removes it. */
export type FormValues = Readonly<Record<string, string | readonly string[] | null>>;

const SKIPPED_INPUTS = new Set(['submit', 'image', 'reset', 'button', 'file']);

function method(value: string | undefined): 'GET' | 'POST' | undefined {
  const m = value?.trim().toLowerCase();
  return m === 'post' ? 'POST' : m === 'get' ? 'GET' : undefined;
}

function resolve(value: string | undefined, base: string): string {
  const v = value?.trim();
  return v ? new URL(v, base).href : base;
}

function isDisabled(el: HTMLElement): boolean {
  if (el.hasAttribute('disabled')) return true;
  // A control inside a disabled fieldset (outside its first legend) is disabled too.
  for (let p = el.parentNode; p; p = p.parentNode) {
    if (p.tagName === 'FIELDSET' && p.hasAttribute('disabled')) return true;
  }
  return false;
}

function controlsOf(form: HTMLElement, document: HTMLElement): HTMLElement[] {
  const id = form.getAttribute('id');
  const selector = 'input, select, textarea, button';
  const own = form.querySelectorAll(selector).filter((el) => {
    const owner = el.getAttribute('form');
    return owner === undefined || owner === id;
  });
  if (!id) return own;
  const outside = document
    .querySelectorAll(selector)
    .filter((el) => el.getAttribute('form') === id && !own.includes(el));
  if (outside.length === 0) return own;
  // Keep document order: node-html-parser has no compareDocumentPosition, so order by source range.
  return [...own, ...outside].sort((a, b) => (a.range?.[0] ?? 0) - (b.range?.[0] ?? 0));
}

function fieldsOf(controls: HTMLElement[]): { fields: FormField[]; submitters: FormSubmitter[] } {
  const fields: FormField[] = [];
  const submitters: FormSubmitter[] = [];
  for (const el of controls) {
    const tag = el.tagName.toLowerCase();
    const name = el.getAttribute('name');
    if (
      tag === 'button' ||
      (tag === 'input' && ['submit', 'image'].includes(el.getAttribute('type')?.toLowerCase() ?? ''))
    ) {
      const type = el.getAttribute('type')?.toLowerCase() ?? 'submit';
      if ((type === 'submit' || type === 'image') && !isDisabled(el)) {
        submitters.push({
          name: name || undefined,
          value: el.getAttribute('value') ?? '',
          formAction: el.getAttribute('formaction'),
          formMethod: method(el.getAttribute('formmethod')),
          text: tag === 'button' ? el.text.trim() : (el.getAttribute('value') ?? ''),
        });
      }
      continue;
    }
    if (!name || isDisabled(el)) continue;
    if (tag === 'input') {
      const type = el.getAttribute('type')?.toLowerCase() ?? 'text';
      if (SKIPPED_INPUTS.has(type)) continue;
      if (type === 'checkbox' || type === 'radio') {
        if (el.hasAttribute('checked')) fields.push({ name, value: el.getAttribute('value') ?? 'on', type });
        continue;
      }
      fields.push({ name, value: el.getAttribute('value') ?? '', type });
    } else if (tag === 'textarea') {
      fields.push({ name, value: el.text, type: 'textarea' });
    } else if (tag === 'select') {
      const options = el.querySelectorAll('option').filter((o) => !o.hasAttribute('disabled'));
      const selected = options.filter((o) => o.hasAttribute('selected'));
      const chosen = el.hasAttribute('multiple') ? selected : selected.slice(-1);
      if (chosen.length === 0 && !el.hasAttribute('multiple') && options[0]) chosen.push(options[0]);
      for (const o of chosen)
        fields.push({ name, value: o.getAttribute('value') ?? o.text.trim(), type: 'select' });
    }
  }
  return { fields, submitters };
}

/** Every form of a parsed page. */
export function findForms(document: HTMLElement, pageUrl: string): FormInfo[] {
  return document.querySelectorAll('form').map((form, index) => {
    const { fields, submitters } = fieldsOf(controlsOf(form, document));
    return {
      index,
      id: form.getAttribute('id') || undefined,
      name: form.getAttribute('name') || undefined,
      action: resolve(form.getAttribute('action'), pageUrl),
      method: method(form.getAttribute('method')) ?? 'GET',
      enctype: form.getAttribute('enctype')?.toLowerCase() ?? 'application/x-www-form-urlencoded',
      fields,
      submitters,
      element: form,
    };
  });
}

/**
 * Picks a form: by index, by CSS selector (e.g. `form#login`, `form[action$="/approve"]`), or by id or name.
 */
export function pickForm(forms: FormInfo[], which: string | number, pageUrl: string): FormInfo {
  let found: FormInfo | undefined;
  if (typeof which === 'number') {
    found = forms[which];
  } else {
    found = forms.find((f) => f.id === which || f.name === which);
    if (!found) {
      const root = forms[0]?.element;
      let top = root;
      while (top?.parentNode) top = top.parentNode;
      let matches: HTMLElement[] = [];
      try {
        matches = top ? top.querySelectorAll(which) : [];
      } catch {
        matches = [];
      }
      found = forms.find((f) => matches.includes(f.element));
    }
  }
  if (!found) {
    throw new ConformanceError('ERR_BROWSER', `no form ${JSON.stringify(which)} on ${pageUrl}`, {
      details: {
        forms: forms.map((f) => ({ index: f.index, id: f.id, action: f.action, method: f.method })),
      },
    });
  }
  return found;
}

/** The entry list a submission sends: the form's defaults with `values` merged over them. */
export function formEntries(
  form: FormInfo,
  values: FormValues = {},
  submitter?: FormSubmitter,
): Array<[string, string]> {
  const entries: Array<[string, string]> = form.fields.map((f) => [f.name, f.value]);
  for (const [name, value] of Object.entries(values)) {
    const at = entries.findIndex(([n]) => n === name);
    const kept = entries.filter(([n]) => n !== name);
    const added: Array<[string, string]> =
      value === null ? [] : (typeof value === 'string' ? [value] : [...value]).map((v) => [name, v]);
    const insertAt = at < 0 ? kept.length : entries.slice(0, at).filter(([n]) => n !== name).length;
    kept.splice(insertAt, 0, ...added);
    entries.splice(0, entries.length, ...kept);
  }
  if (submitter?.name) entries.push([submitter.name, submitter.value]);
  return entries;
}
