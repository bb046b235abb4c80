/**
 * The `model` member of an inference request body, located in the raw bytes. Serves POLICY-6 and MODELS-2: the
 * allowlist checks the model the upstream will actually see, and an alias is rewritten to the canonical id the
 * catalogue resolves it to, without re-serialising the rest of the body (INFERENCE-7: unknown fields and number
 * formatting pass through byte for byte).
 *
 * Why a scanner and not `JSON.parse` + `JSON.stringify`: re-serialising changes bytes the client sent (large
 * integers lose precision, `1.0` becomes `1`, escapes change). Why duplicates matter: JSON parsers disagree on
 * duplicate keys (JavaScript keeps the last, others the first), so `{"model":"denied","model":"allowed"}` would
 * pass a check made on the parsed value and run the denied model upstream. A body with more than one top-level
 * `model` is therefore refused.
 */

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const COMMA = 0x2c;
const COLON = 0x3a;

/** Where one top-level member's value sits in the body: `raw.subarray(start, end)` is its JSON text. */
export interface MemberSpan {
  start: number;
  end: number;
}

class MalformedBody extends Error {}

function isWhitespace(b: number | undefined): boolean {
  return b === 0x20 || b === 0x09 || b === 0x0a || b === 0x0d;
}

function skipWhitespace(raw: Buffer, i: number): number {
  let j = i;
  while (j < raw.length && isWhitespace(raw[j])) j++;
  return j;
}

/** `i` is at an opening quote; returns the index just past the closing quote. */
function skipString(raw: Buffer, i: number): number {
  let j = i + 1;
  while (j < raw.length) {
    const b = raw[j];
    if (b === BACKSLASH) j += 2;
    else if (b === QUOTE) return j + 1;
    else j++;
  }
  throw new MalformedBody('unterminated string');
}

/** `i` is at the first byte of a value; returns the index just past it. */
function skipValue(raw: Buffer, i: number): number {
  const first = raw[i];
  if (first === QUOTE) return skipString(raw, i);
  if (first === OPEN_OBJECT || first === OPEN_ARRAY) {
    let depth = 0;
    let j = i;
    while (j < raw.length) {
      const b = raw[j];
      if (b === QUOTE) {
        j = skipString(raw, j);
        continue;
      }
      if (b === OPEN_OBJECT || b === OPEN_ARRAY) depth++;
      else if (b === CLOSE_OBJECT || b === CLOSE_ARRAY) {
        depth--;
        if (depth === 0) return j + 1;
      }
      j++;
    }
    throw new MalformedBody('unterminated container');
  }
  // number, true, false, null
  let j = i;
  while (j < raw.length) {
    const b = raw[j];
    if (b === COMMA || b === CLOSE_OBJECT || b === CLOSE_ARRAY || isWhitespace(b)) break;
    j++;
  }
  if (j === i) throw new MalformedBody('missing value');
  return j;
}

/**
 * Every top-level member named `name` of a JSON object body, in body order (keys compared after unescaping, so
 * `"mod\u0065l"` is `model`). `null` when the body is not a JSON object this scanner can walk (the pipeline has
 * already parsed it, so that does not happen for a validated body).
 */
export function findTopLevelMembers(raw: Buffer, name: string): MemberSpan[] | null {
  try {
    let i = 0;
    if (raw[0] === 0xef && raw[1] === 0xbb && raw[2] === 0xbf) i = 3; // UTF-8 BOM (the body decoder drops it)
    i = skipWhitespace(raw, i);
    if (raw[i] !== OPEN_OBJECT) return null;
    i = skipWhitespace(raw, i + 1);
    const found: MemberSpan[] = [];
    if (raw[i] === CLOSE_OBJECT) return found;
    for (;;) {
      if (raw[i] !== QUOTE) return null;
      const keyEnd = skipString(raw, i);
      const key = JSON.parse(raw.subarray(i, keyEnd).toString('utf8')) as string;
      i = skipWhitespace(raw, keyEnd);
      if (raw[i] !== COLON) return null;
      i = skipWhitespace(raw, i + 1);
      const end = skipValue(raw, i);
      if (key === name) found.push({ start: i, end });
      i = skipWhitespace(raw, end);
      if (raw[i] === COMMA) {
        i = skipWhitespace(raw, i + 1);
        continue;
      }
      if (raw[i] === CLOSE_OBJECT) return found;
      return null;
    }
  } catch {
    return null;
  }
}

/** A copy of `raw` with the value at `span` replaced by `value` as a JSON string. */
export function replaceSpan(raw: Buffer, span: MemberSpan, value: string): Buffer {
  return Buffer.concat([
    raw.subarray(0, span.start),
    Buffer.from(JSON.stringify(value), 'utf8'),
    raw.subarray(span.end),
  ]);
}
