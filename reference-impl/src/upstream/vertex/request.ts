/**
 * The Vertex wire shape of an Anthropic request: base URL by region, the model-in-the-URL
 * paths, and the body rewrite (protocol-facts §3).
 *
 * The body is rewritten at the top level only, member by member on the raw text: every other member keeps its
 * exact bytes, so unknown fields, number formatting and escapes survive as they do on the Anthropic path
 * (INFERENCE-7). Keys are compared decoded, so `"mod\u0065l"` is removed like `"model"`, and duplicates are all
 * removed, so what Vertex parses is exactly what we meant.
 */

/** The `anthropic_version` Vertex documents for Anthropic models. */
export const VERTEX_ANTHROPIC_VERSION = 'vertex-2023-10-16';

/** The Vertex API base URL (with `/v1`) for a region, as `@anthropic-ai/vertex-sdk` computes it. */
export function vertexBaseUrl(region: string): string {
  switch (region) {
    case 'global':
      return 'https://aiplatform.googleapis.com/v1';
    case 'us':
      return 'https://aiplatform.us.rep.googleapis.com/v1';
    case 'eu':
      return 'https://aiplatform.eu.rep.googleapis.com/v1';
    default:
      return `https://${region}-aiplatform.googleapis.com/v1`;
  }
}

/** Regions are DNS labels (`global`, `us`, `eu`, `us-east5`, `europe-west1`): anything else would change the host. */
export const REGION = /^[a-z0-9]+(?:-[a-z0-9]+)*$/;

/**
 * Percent-encodes a path segment: RFC 3986 pchar minus `:` and `;` (a `:` would be read as the method separator,
 * a `;` as a matrix parameter), so no value can leave `/publishers/anthropic/models/`.
 */
export function encodeSegment(value: string): string {
  return value.replace(/[^A-Za-z0-9\-._~!$&'()*+,=@]/gu, encodeURIComponent);
}

/** True for a value that is usable as one path segment (not empty, not `.` or `..`). */
export function isSafeSegment(value: string): boolean {
  return value !== '' && value !== '.' && value !== '..';
}

export type VertexMethod = 'rawPredict' | 'streamRawPredict';

/** `/projects/{p}/locations/{r}/publishers/anthropic/models/{model}:{method}` (appended to the base URL). */
export function modelPath(projectId: string, region: string, model: string, method: VertexMethod): string {
  return `/projects/${encodeSegment(projectId)}/locations/${encodeSegment(region)}/publishers/anthropic/models/${encodeSegment(model)}:${method}`;
}

/** `…/publishers/anthropic/models/count-tokens:rawPredict`. */
export function countTokensPath(projectId: string, region: string): string {
  return modelPath(projectId, region, 'count-tokens', 'rawPredict');
}

interface Member {
  key: string;
  /** The member's raw text, `"key": value`, trimmed. */
  raw: string;
}

/** Top-level members of a JSON object text, raw; null when `text` is not a JSON object. */
export function topLevelMembers(text: string): Member[] | null {
  let i = 0;
  const n = text.length;
  const ws = () => {
    while (i < n && /\s/.test(text[i] as string)) i++;
  };
  const skipString = () => {
    // at the opening quote
    i++;
    while (i < n) {
      const c = text[i];
      if (c === '\\') i += 2;
      else if (c === '"') {
        i++;
        return true;
      } else i++;
    }
    return false;
  };
  /** Skips one JSON value (the caller has already parsed the whole text, so it is valid JSON). */
  const skipValue = (): boolean => {
    const c = text[i];
    if (c === '"') return skipString();
    if (c === '{' || c === '[') {
      let depth = 0;
      while (i < n) {
        const d = text[i];
        if (d === '"') {
          if (!skipString()) return false;
          continue;
        }
        if (d === '{' || d === '[') depth++;
        else if (d === '}' || d === ']') {
          depth--;
          if (depth === 0) {
            i++;
            return true;
          }
        }
        i++;
      }
      return false;
    }
    const start = i;
    while (i < n && !/[\s,}\]]/.test(text[i] as string)) i++;
    return i > start;
  };

  ws();
  if (text[i] !== '{') return null;
  i++;
  const members: Member[] = [];
  ws();
  if (text[i] === '}') return members;
  while (i < n) {
    ws();
    if (text[i] !== '"') return null;
    const start = i;
    if (!skipString()) return null;
    let key: string;
    try {
      key = JSON.parse(text.slice(start, i)) as string;
    } catch {
      return null;
    }
    ws();
    if (text[i] !== ':') return null;
    i++;
    ws();
    if (!skipValue()) return null;
    members.push({ key, raw: text.slice(start, i).trim() });
    ws();
    if (text[i] === ',') {
      i++;
      continue;
    }
    if (text[i] === '}') return members;
    return null;
  }
  return null;
}

/**
 * Rewrites a JSON object body: drops the members named in `remove` (every occurrence), then appends `add`
 * (serialized). Throws when `body` is not a JSON object.
 */
export function rewriteBody(body: Buffer, remove: readonly string[], add: Record<string, unknown>): Buffer {
  const members = topLevelMembers(body.toString('utf8'));
  if (!members) throw new Error('the request body is not a JSON object');
  const drop = new Set([...remove, ...Object.keys(add)]);
  const kept = members.filter((m) => !drop.has(m.key)).map((m) => m.raw);
  for (const [key, value] of Object.entries(add))
    kept.push(`${JSON.stringify(key)}:${JSON.stringify(value)}`);
  return Buffer.from(`{${kept.join(',')}}`, 'utf8');
}
