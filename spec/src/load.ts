import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { isRecord } from './json.ts';

const specDir = fileURLToPath(new URL('..', import.meta.url)).replace(/[\\/]$/, '');

/** Absolute paths of the spec files (and of the directory holding them). */
export const specFiles: {
  dir: string;
  openapi: string;
  asyncapi: string;
  requirements: string;
  reportSchema: string;
  requirementsSchema: string;
} = {
  dir: specDir,
  openapi: `${specDir}/openapi.yaml`,
  asyncapi: `${specDir}/asyncapi.yaml`,
  requirements: `${specDir}/requirements.yaml`,
  reportSchema: `${specDir}/schemas/conformance-report.schema.json`,
  requirementsSchema: `${specDir}/schemas/requirements.schema.json`,
};

export type RequirementLevel = 'MUST' | 'SHOULD' | 'MAY';

export interface Requirement {
  id: string;
  level: RequirementLevel;
  feature: string;
  text: string;
  /** Where the fact behind the requirement comes from (e.g. "protocol-facts §0"), when known. */
  source?: string;
}

/** A feature, from requirements.yaml `features:`. */
export interface Feature {
  id: string;
  profile: string;
  title: string;
}

/** A profile, from requirements.yaml `profiles:` (`core`, and extended ones that name the profile they extend). */
export interface Profile {
  id: string;
  title: string;
  description?: string;
  extends?: string;
}

export interface RequirementsDocument {
  features: Feature[];
  requirements: Requirement[];
  profiles: Profile[];
}

/** One OpenAPI operation. */
export interface Operation {
  operationId: string;
  method: 'get' | 'post' | 'put' | 'patch' | 'delete';
  path: string;
  feature: string;
  requirements: string[];
  /** `admin`: the operation accepts the `adminApiKey` scheme (or an admin user's bearer); see `adminScope`. */
  security: 'none' | 'bearer' | 'admin';
  /** For admin operations, the scope an API key needs (`x-ocg-admin-scope`). */
  adminScope?: 'read' | 'write';
  /** The request body's media type (`application/json`, `application/x-www-form-urlencoded`), when it has one. */
  requestContentType?: string;
  /** Whether the operation is an OCG extension (`x-ocg-extension: true`). */
  extension?: boolean;
}

/** Reads and parses a YAML file. */
export async function readYamlFile(file: string): Promise<unknown> {
  return parseYaml(await readFile(file, 'utf8'));
}

/** Reads and parses a JSON file. */
export async function readJsonFile(file: string): Promise<unknown> {
  return JSON.parse(await readFile(file, 'utf8'));
}

const cache = new Map<string, Promise<unknown>>();

function cached<T>(key: string, load: () => Promise<T>): Promise<T> {
  let p = cache.get(key);
  if (!p) {
    p = load();
    // A failed load is not cached, so a later call can retry.
    p.catch(() => cache.delete(key));
    cache.set(key, p);
  }
  return p as Promise<T>;
}

/** The parsed openapi.yaml (cached: the same object on every call — do not mutate it). */
export function loadOpenApi(): Promise<Record<string, unknown>> {
  return cached('openapi', async () => {
    const doc = await readYamlFile(specFiles.openapi);
    if (!isRecord(doc)) throw new Error(`${specFiles.openapi}: not a YAML mapping`);
    return doc;
  });
}

/** The parsed asyncapi.yaml (cached; do not mutate). */
export function loadAsyncApi(): Promise<Record<string, unknown>> {
  return cached('asyncapi', async () => {
    const doc = await readYamlFile(specFiles.asyncapi);
    if (!isRecord(doc)) throw new Error(`${specFiles.asyncapi}: not a YAML mapping`);
    return doc;
  });
}

/** The conformance report JSON Schema (cached; do not mutate). */
export function loadReportSchema(): Promise<Record<string, unknown>> {
  return cached('reportSchema', async () => {
    const doc = await readJsonFile(specFiles.reportSchema);
    if (!isRecord(doc)) throw new Error(`${specFiles.reportSchema}: not a JSON object`);
    return doc;
  });
}

/** Turns a parsed requirements.yaml into typed lists (no validation beyond shape; the lint validates fully). */
export function toRequirementsDocument(doc: unknown): RequirementsDocument {
  if (!isRecord(doc)) throw new Error('requirements document: not a mapping');
  const list = (key: string): Record<string, unknown>[] => {
    const v = doc[key];
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v)) throw new Error(`requirements document: \`${key}\` is not a list`);
    return v.filter(isRecord);
  };
  const str = (v: unknown): string => (typeof v === 'string' ? v : String(v ?? ''));
  return {
    profiles: list('profiles').map((p) => {
      const out: Profile = { id: str(p.id), title: str(p.title) };
      if (typeof p.description === 'string') out.description = p.description;
      if (typeof p.extends === 'string') out.extends = p.extends;
      return out;
    }),
    features: list('features').map((f) => ({ id: str(f.id), profile: str(f.profile), title: str(f.title) })),
    requirements: list('requirements').map((r) => {
      const out: Requirement = {
        id: str(r.id),
        level: str(r.level) as RequirementLevel,
        feature: str(r.feature),
        text: str(r.text).trim(),
      };
      if (typeof r.source === 'string') out.source = r.source;
      return out;
    }),
  };
}

/** Features, requirements (and profiles) from requirements.yaml, in file order (cached; do not mutate). */
export function loadRequirements(): Promise<RequirementsDocument> {
  return cached('requirements', async () =>
    toRequirementsDocument(await readYamlFile(specFiles.requirements)),
  );
}

const METHODS = ['get', 'put', 'post', 'delete', 'patch'] as const;

/** Lists the operations of a parsed OpenAPI document, in document order. */
export function operationsOf(doc: Record<string, unknown>): Operation[] {
  const ops: Operation[] = [];
  const paths = isRecord(doc.paths) ? doc.paths : {};
  const globalSecurity = doc.security;
  for (const [path, item] of Object.entries(paths)) {
    if (!isRecord(item)) continue;
    for (const method of METHODS) {
      const op = item[method];
      if (!isRecord(op)) continue;
      const security = op.security !== undefined ? op.security : globalSecurity;
      const schemes = Array.isArray(security) ? security.filter(isRecord) : [];
      const usesBearer = schemes.some((s) => Object.hasOwn(s, 'bearer'));
      const usesAdmin = schemes.some((s) => Object.hasOwn(s, 'adminApiKey'));
      const content =
        isRecord(op.requestBody) && isRecord(op.requestBody.content) ? op.requestBody.content : {};
      const requestContentType = Object.keys(content)[0];
      const scope = op['x-ocg-admin-scope'];
      ops.push({
        operationId: typeof op.operationId === 'string' ? op.operationId : `${method} ${path}`,
        method,
        path,
        feature: typeof op['x-ocg-feature'] === 'string' ? op['x-ocg-feature'] : '',
        requirements: Array.isArray(op['x-ocg-requirements'])
          ? op['x-ocg-requirements'].filter((x): x is string => typeof x === 'string')
          : [],
        security: usesAdmin ? 'admin' : usesBearer ? 'bearer' : 'none',
        ...(usesAdmin ? { adminScope: scope === 'read' ? ('read' as const) : ('write' as const) } : {}),
        ...(requestContentType ? { requestContentType } : {}),
        extension: op['x-ocg-extension'] === true,
      });
    }
  }
  return ops;
}

/** The operations of openapi.yaml, in document order. */
export async function listOperations(): Promise<Operation[]> {
  return operationsOf(await loadOpenApi());
}
