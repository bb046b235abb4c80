import type { ErrorObject, ValidateFunction } from 'ajv';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { isRecord } from './json.ts';
import { loadAsyncApi, loadOpenApi, loadReportSchema } from './load.ts';
import { parseSseTranscript } from './sse.ts';

/** The $id under which the whole OpenAPI document is registered with ajv. */
export const OPENAPI_SCHEMA_ID = 'https://opencodinggateway.dev/spec/openapi.json';

/** Compiled validators built with ajv (draft 2020-12) from the OpenAPI component schemas. */
export interface SpecValidators {
  /** Validates a JSON request body for an operation; returns [] when valid, else readable messages
   *  like "/max_tokens: must be integer". */
  validateRequestBody(operationId: string, body: unknown, mediaType?: string): string[];
  /** Validates a response: status must be declared for the operation (or `default`), content-type declared,
   *  and a JSON body must match its schema. Returns [] when valid.
   *  Beyond the contract: a JSON body may be given as text (it is parsed); a `text/event-stream` body given as text
   *  is parsed and every event checked with `validateSseEvent`; `body: undefined` skips the body check; when
   *  `headers` is given, the declared response headers (`request-id`) are checked too. */
  validateResponse(operationId: string, r: ResponseToValidate): string[];
  /** Validates one SSE event of /v1/messages (event name + parsed data) against the AsyncAPI/OpenAPI event schemas;
   *  unknown event types are allowed (the API keeps growing). */
  validateSseEvent(event: string, data: unknown): string[];
  /** Validates a conformance report against the report schema. */
  validateReport(report: unknown): string[];
}

/** A response as seen by a client, for `validateResponse`. */
export interface ResponseToValidate {
  status: number;
  contentType: string | null;
  /** Parsed JSON, or the body text; `undefined` to skip the body check. */
  body: unknown;
  /** Response headers (a fetch `Headers` or a plain record, any case); when present, declared headers are checked. */
  headers?: HeadersLike;
}

export type HeadersLike =
  | { get(name: string): string | null }
  | Record<string, string | string[] | number | undefined | null>;

type Json = Record<string, unknown>;

function headerValue(headers: HeadersLike, name: string): string | undefined {
  if (typeof headers.get === 'function') {
    return (headers as { get(name: string): string | null }).get(name) ?? undefined;
  }
  const lower = name.toLowerCase();
  for (const [k, v] of Object.entries(headers)) {
    if (k.toLowerCase() !== lower || v === undefined || v === null) continue;
    return Array.isArray(v) ? v.join(', ') : String(v);
  }
  return undefined;
}

// ajv-formats is CommonJS: under Node's ESM loader the callable is the default export, under some bundlers
// it is nested once more.
type AddFormats = (ajv: Ajv2020) => unknown;
export const addFormats: AddFormats =
  typeof addFormatsModule === 'function'
    ? (addFormatsModule as unknown as AddFormats)
    : ((addFormatsModule as unknown as { default: AddFormats }).default as AddFormats);

function escapePointer(s: string): string {
  return s.replace(/~/g, '~0').replace(/\//g, '~1');
}

function unescapePointer(s: string): string {
  return s.replace(/~1/g, '/').replace(/~0/g, '~');
}

function getPointer(doc: unknown, pointer: string): unknown {
  if (pointer === '' || pointer === '/') return doc;
  let cur: unknown = doc;
  for (const part of pointer.replace(/^\//, '').split('/').map(unescapePointer)) {
    if (Array.isArray(cur)) cur = cur[Number(part)];
    else if (isRecord(cur)) cur = cur[part];
    else return undefined;
  }
  return cur;
}

/** Follows local `$ref`s ("#/…") from a location of the document; returns the final pointer and value. */
function deref(doc: Json, pointer: string): { pointer: string; value: unknown } {
  let p = pointer;
  let value = getPointer(doc, p);
  for (let i = 0; i < 20 && isRecord(value) && typeof value.$ref === 'string'; i++) {
    const ref = value.$ref;
    if (!ref.startsWith('#')) break;
    p = decodeURIComponent(ref.slice(1));
    value = getPointer(doc, p);
  }
  return { pointer: p, value };
}

/** Formats ajv errors as readable messages: "<instance path>: <message>". */
export function formatAjvErrors(errors: ErrorObject[] | null | undefined, prefix = ''): string[] {
  if (!errors) return [];
  const out: string[] = [];
  // A oneOf/anyOf whose every failing branch failed only on `type` at the same place reads better as one line
  // ("must be string or array") than as one line per branch plus "must match exactly one schema in oneOf".
  const collapsed = new Set<ErrorObject>();
  const replacement = new Map<ErrorObject, string>();
  for (const e of errors) {
    if (e.keyword !== 'oneOf' && e.keyword !== 'anyOf') continue;
    const branchPrefix = `${e.schemaPath}/`;
    const branch = errors.filter((b) => b.schemaPath.startsWith(branchPrefix));
    if (branch.length === 0) continue;
    if (!branch.every((b) => b.keyword === 'type' && b.instancePath === e.instancePath)) continue;
    const types = branch.map((b) => String((b.params as { type?: unknown }).type));
    for (const b of branch) collapsed.add(b);
    replacement.set(e, `must be ${[...new Set(types)].join(' or ')}`);
  }
  for (const e of errors) {
    // `if` only says "must match then schema": the `then` errors already say what is wrong.
    if (e.keyword === 'if' || collapsed.has(e)) continue;
    const replaced = replacement.get(e);
    if (replaced !== undefined) {
      const line = `${prefix}${e.instancePath || '/'}: ${replaced}`;
      if (!out.includes(line)) out.push(line);
      continue;
    }
    let msg = e.message ?? 'is invalid';
    const params = e.params as Record<string, unknown>;
    if (e.keyword === 'const') msg += ` ${JSON.stringify(params.allowedValue)}`;
    if (e.keyword === 'enum') msg += ` ${JSON.stringify(params.allowedValues)}`;
    if (e.keyword === 'additionalProperties') msg += ` '${String(params.additionalProperty)}'`;
    const line = `${prefix}${e.instancePath || '/'}: ${msg}`;
    if (!out.includes(line)) out.push(line);
  }
  return out;
}

function mediaEssence(contentType: string): string {
  return (contentType.split(';')[0] ?? '').trim().toLowerCase();
}

function isJsonMedia(essence: string): boolean {
  return essence === 'application/json' || essence.endsWith('+json');
}

function matchMedia(declared: string[], essence: string): string | undefined {
  const exact = declared.find((d) => mediaEssence(d) === essence);
  if (exact) return exact;
  const [type] = essence.split('/');
  return declared.find((d) => {
    const e = mediaEssence(d);
    return e === '*/*' || e === `${type}/*`;
  });
}

interface OperationLocation {
  pointer: string;
  op: Json;
}

/** Builds the spec validators (ajv 2020-12, all errors, formats) from the cached spec files. */
export async function createValidators(): Promise<SpecValidators> {
  const [openapi, asyncapi, reportSchema] = await Promise.all([
    loadOpenApi(),
    loadAsyncApi(),
    loadReportSchema(),
  ]);
  return buildValidators(openapi, asyncapi, reportSchema);
}

/** Builds validators from given documents (useful for tests on modified copies). */
export function buildValidators(openapi: Json, asyncapi: Json, reportSchema: Json): SpecValidators {
  const ajv = new Ajv2020({ allErrors: true, strict: false, validateFormats: true });
  addFormats(ajv);
  ajv.addSchema(openapi, OPENAPI_SCHEMA_ID);
  const reportId = typeof reportSchema.$id === 'string' ? reportSchema.$id : 'urn:ocg:conformance-report';
  ajv.addSchema(reportSchema, reportId);

  const compiled = new Map<string, ValidateFunction>();
  /** Compiles (once) the schema at a JSON pointer of the OpenAPI document. */
  const schemaAt = (pointer: string): ValidateFunction => {
    let fn = compiled.get(pointer);
    if (!fn) {
      const ref = `${OPENAPI_SCHEMA_ID}#${pointer.split('/').map(encodeURIComponent).join('/')}`;
      fn = ajv.getSchema(ref) ?? ajv.compile({ $ref: ref });
      compiled.set(pointer, fn);
    }
    return fn;
  };
  let reportFn: ValidateFunction | undefined;

  const operations = new Map<string, OperationLocation>();
  const paths = isRecord(openapi.paths) ? openapi.paths : {};
  for (const [path, item] of Object.entries(paths)) {
    if (!isRecord(item)) continue;
    for (const [method, op] of Object.entries(item)) {
      if (!isRecord(op) || typeof op.operationId !== 'string') continue;
      operations.set(op.operationId, { pointer: `/paths/${escapePointer(path)}/${method}`, op });
    }
  }

  // SSE event name → pointer of its payload schema in the OpenAPI document, read from asyncapi.yaml.
  const eventSchemas = new Map<string, string>();
  const asyncMessages = isRecord(asyncapi.components) ? asyncapi.components.messages : undefined;
  if (isRecord(asyncMessages)) {
    for (const [key, msg] of Object.entries(asyncMessages)) {
      if (!isRecord(msg)) continue;
      const name = typeof msg.name === 'string' ? msg.name : key;
      const payload = msg.payload;
      if (!isRecord(payload) || typeof payload.$ref !== 'string') continue;
      const [file, fragment = ''] = payload.$ref.split('#');
      if (file && /openapi\.ya?ml$/.test(file)) eventSchemas.set(name, decodeURIComponent(fragment));
    }
  }

  const validateSchemaAt = (pointer: string, value: unknown): string[] => {
    const fn = schemaAt(pointer);
    return fn(value) ? [] : formatAjvErrors(fn.errors);
  };

  const validateSseEvent = (event: string, data: unknown): string[] => {
    const pointer = eventSchemas.get(event);
    if (!pointer) return [];
    return validateSchemaAt(pointer, data);
  };

  /** What an operation declares for a request media type; resolved once per pair (this runs on every request). */
  type BodyRule =
    | { kind: 'problem'; problem: string }
    | { kind: 'none'; operationId: string }
    | { kind: 'schema'; required: boolean; pointer: string };
  const bodyRules = new Map<string, BodyRule>();
  const bodyRule = (operationId: string, mediaType: string): BodyRule => {
    const key = `${operationId}\n${mediaType}`;
    let rule = bodyRules.get(key);
    if (rule) return rule;
    const loc = operations.get(operationId);
    if (!loc) return { kind: 'problem', problem: `unknown operationId "${operationId}"` };
    const rb = deref(openapi, `${loc.pointer}/requestBody`);
    const content = isRecord(rb.value) ? rb.value.content : undefined;
    const media = isRecord(content) ? matchMedia(Object.keys(content), mediaType) : undefined;
    rule = !isRecord(rb.value)
      ? { kind: 'none', operationId }
      : !media
        ? { kind: 'problem', problem: `${operationId} declares no ${mediaType} request body` }
        : {
            kind: 'schema',
            required: rb.value.required === true,
            pointer: `${rb.pointer}/content/${escapePointer(media)}/schema`,
          };
    bodyRules.set(key, rule);
    return rule;
  };

  return {
    validateRequestBody(operationId, body, mediaType = 'application/json') {
      const rule = bodyRule(operationId, mediaType);
      if (rule.kind === 'problem') return [rule.problem];
      if (rule.kind === 'none') return body === undefined ? [] : [`${operationId} takes no request body`];
      if (body === undefined) return rule.required ? ['/: request body is required'] : [];
      return validateSchemaAt(rule.pointer, body);
    },

    validateResponse(operationId, r) {
      const loc = operations.get(operationId);
      if (!loc) return [`unknown operationId "${operationId}"`];
      const responses = isRecord(loc.op.responses) ? loc.op.responses : {};
      const declared = Object.keys(responses);
      const key = [String(r.status), `${String(r.status).charAt(0)}XX`, 'default'].find((k) =>
        Object.hasOwn(responses, k),
      );
      if (!key) {
        return [`status ${r.status} is not declared for ${operationId} (declared: ${declared.join(', ')})`];
      }
      const resp = deref(openapi, `${loc.pointer}/responses/${escapePointer(key)}`);
      const headerErrors = r.headers ? checkHeaders(resp.pointer, r.headers) : [];
      return [...headerErrors, ...checkContent(operationId, resp, r)];
    },

    validateSseEvent,

    validateReport(report) {
      reportFn ??= ajv.getSchema(reportId);
      if (!reportFn) return ['conformance report schema could not be compiled'];
      return reportFn(report) ? [] : formatAjvErrors(reportFn.errors);
    },
  };

  function checkHeaders(responsePointer: string, headers: HeadersLike): string[] {
    const errors: string[] = [];
    const declared = getPointer(openapi, `${responsePointer}/headers`);
    if (!isRecord(declared)) return errors;
    for (const name of Object.keys(declared)) {
      const h = deref(openapi, `${responsePointer}/headers/${escapePointer(name)}`);
      if (!isRecord(h.value)) continue;
      const value = headerValue(headers, name);
      if (value === undefined) {
        if (h.value.required === true) errors.push(`missing header ${name}`);
        continue;
      }
      if (h.value.schema !== undefined) {
        for (const m of validateSchemaAt(`${h.pointer}/schema`, value)) {
          errors.push(`header ${name}${m.startsWith('/: ') ? m.slice(1) : ` ${m}`}`);
        }
      }
    }
    return errors;
  }

  function checkContent(
    operationId: string,
    resp: { pointer: string; value: unknown },
    r: ResponseToValidate,
  ): string[] {
    const content = isRecord(resp.value) && isRecord(resp.value.content) ? resp.value.content : undefined;
    if (!content || Object.keys(content).length === 0) {
      if (r.contentType && r.body !== undefined && r.body !== null && r.body !== '') {
        return [`status ${r.status} of ${operationId} declares no body, got content-type ${r.contentType}`];
      }
      return [];
    }
    const mediaTypes = Object.keys(content);
    if (!r.contentType) {
      return [
        `missing content-type for status ${r.status} of ${operationId} (declared: ${mediaTypes.join(', ')})`,
      ];
    }
    const essence = mediaEssence(r.contentType);
    const media = matchMedia(mediaTypes, essence);
    if (!media) {
      return [
        `content-type ${r.contentType} is not declared for status ${r.status} of ${operationId} (declared: ${mediaTypes.join(', ')})`,
      ];
    }
    if (r.body === undefined) return [];
    const mediaObj = content[media];
    if (!isRecord(mediaObj) || mediaObj.schema === undefined) return [];
    const schemaPointer = `${resp.pointer}/content/${escapePointer(media)}/schema`;
    let body = r.body;
    if (isJsonMedia(essence) && typeof body === 'string') {
      try {
        body = JSON.parse(body);
      } catch {
        return ['/: body is not valid JSON'];
      }
    }
    const errors = validateSchemaAt(schemaPointer, body);
    if (essence === 'text/event-stream' && typeof body === 'string') {
      parseSseTranscript(body).forEach((ev, i) => {
        for (const e of validateSseEvent(ev.event, ev.data)) errors.push(`event #${i} (${ev.event}) ${e}`);
      });
    }
    return errors;
  }
}
