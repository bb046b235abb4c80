/** Small helpers for walking parsed YAML/JSON documents (OpenAPI, AsyncAPI, requirements). */

export type Json = Record<string, unknown>;

export function isRecord(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Follows local `$ref`s (`#/…`, RFC 6901 escapes) from `v` to the value they finally name. */
export function resolveLocalRef(doc: Json, v: unknown): unknown {
  let cur = v;
  for (let i = 0; i < 20 && isRecord(cur) && typeof cur.$ref === 'string' && cur.$ref.startsWith('#/'); i++) {
    let next: unknown = doc;
    for (const part of cur.$ref.slice(2).split('/')) {
      const key = decodeURIComponent(part).replace(/~1/g, '/').replace(/~0/g, '~');
      next = isRecord(next) ? next[key] : undefined;
    }
    cur = next;
  }
  return cur;
}
