#!/usr/bin/env node
/**
 * Lints the OCG spec: validates openapi.yaml (swagger-parser), asyncapi.yaml (@asyncapi/parser), requirements.yaml
 * (its JSON Schema), and the cross-references between them. Usage: `node spec/scripts/lint-spec.ts [specDir]`.
 * Exits 1 with one line per problem when anything is wrong.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import SwaggerParser from '@apidevtools/swagger-parser';
import { fromFile, Parser } from '@asyncapi/parser';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { parse as parseYaml } from 'yaml';
import { isRecord, type Json, resolveLocalRef } from '../src/json.ts';
import { specFiles } from '../src/load.ts';
import { addFormats, formatAjvErrors } from '../src/validators.ts';

export interface LintResult {
  errors: string[];
  warnings: string[];
}

export interface LintSpecOptions {
  /** Directory holding openapi.yaml, asyncapi.yaml, requirements.yaml (default: the package's own spec dir). */
  dir?: string;
  /** JSON Schema for requirements.yaml (default: spec/schemas/requirements.schema.json of the package). */
  requirementsSchema?: string;
}

const REQUIREMENT_ID = /^[A-Z]+-[0-9]+$/;
const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

function records(v: unknown): Json[] {
  return Array.isArray(v) ? v.filter(isRecord) : [];
}

/**
 * Cross-reference checks between parsed documents (pure; no I/O). `requirementsDoc` is the parsed
 * requirements.yaml. Returns errors and warnings, each a readable sentence naming the place.
 */
export function checkCrossReferences(openapi: Json, asyncapi: Json, requirementsDoc: unknown): LintResult {
  const errors: string[] = [];
  const warnings: string[] = [];
  const reqDoc = isRecord(requirementsDoc) ? requirementsDoc : {};
  const profiles = records(reqDoc.profiles);
  const features = records(reqDoc.features);
  const requirements = records(reqDoc.requirements);

  const profileIds = new Set<string>();
  for (const p of profiles) {
    const id = String(p.id);
    if (profileIds.has(id)) errors.push(`requirements.yaml: duplicate profile id "${id}"`);
    profileIds.add(id);
  }
  for (const p of profiles) {
    if (p.extends !== undefined && !profileIds.has(String(p.extends))) {
      errors.push(
        `requirements.yaml: profile "${String(p.id)}" extends undeclared profile "${String(p.extends)}"`,
      );
    }
  }

  const featureIds = new Set<string>();
  for (const f of features) {
    const id = String(f.id);
    if (featureIds.has(id)) errors.push(`requirements.yaml: duplicate feature id "${id}"`);
    featureIds.add(id);
    if (!profileIds.has(String(f.profile))) {
      errors.push(`requirements.yaml: feature "${id}" names undeclared profile "${String(f.profile)}"`);
    }
  }

  const requirementIds = new Set<string>();
  for (const r of requirements) {
    const id = String(r.id);
    if (!REQUIREMENT_ID.test(id)) {
      errors.push(`requirements.yaml: requirement id "${id}" does not match ${REQUIREMENT_ID.source}`);
    }
    if (requirementIds.has(id)) errors.push(`requirements.yaml: duplicate requirement id "${id}"`);
    requirementIds.add(id);
    if (!featureIds.has(String(r.feature))) {
      errors.push(`requirements.yaml: requirement ${id} names undeclared feature "${String(r.feature)}"`);
    }
    const level = String(r.level);
    if (typeof r.text === 'string' && ['MUST', 'SHOULD', 'MAY'].includes(level) && !r.text.includes(level)) {
      errors.push(`requirements.yaml: requirement ${id} is ${level} but its text does not say ${level}`);
    }
  }

  const referenced = new Set<string>();
  const operationIds = new Set<string>();
  const paths = isRecord(openapi.paths) ? openapi.paths : {};
  for (const [p, item] of Object.entries(paths)) {
    if (!isRecord(item)) continue;
    for (const method of HTTP_METHODS) {
      const op = item[method];
      if (!isRecord(op)) continue;
      const where = `openapi.yaml: ${method.toUpperCase()} ${p}`;
      const opId = typeof op.operationId === 'string' ? op.operationId : undefined;
      if (!opId) errors.push(`${where} has no operationId`);
      else if (operationIds.has(opId)) errors.push(`${where}: duplicate operationId "${opId}"`);
      else operationIds.add(opId);

      const feature = op['x-ocg-feature'];
      if (typeof feature !== 'string' || feature === '') {
        errors.push(`${where} (${opId ?? '?'}) has no x-ocg-feature`);
      } else if (!featureIds.has(feature)) {
        errors.push(`${where} (${opId ?? '?'}): x-ocg-feature "${feature}" is not a declared feature`);
      }

      const reqs = op['x-ocg-requirements'];
      if (!Array.isArray(reqs) || reqs.length === 0) {
        errors.push(`${where} (${opId ?? '?'}) has no x-ocg-requirements`);
      } else {
        for (const id of reqs) {
          if (typeof id !== 'string' || !requirementIds.has(id)) {
            errors.push(
              `${where} (${opId ?? '?'}): x-ocg-requirements names unknown requirement "${String(id)}"`,
            );
          } else {
            referenced.add(id);
          }
        }
      }

      const responses = isRecord(op.responses) ? op.responses : {};
      for (const [status, r] of Object.entries(responses)) {
        const resp = resolveLocalRef(openapi, r);
        const headers = isRecord(resp) && isRecord(resp.headers) ? resp.headers : {};
        if (!Object.hasOwn(headers, 'request-id')) {
          errors.push(`${where} (${opId ?? '?'}): response ${status} does not declare the request-id header`);
        }
      }
    }
  }
  for (const id of requirementIds) {
    if (!referenced.has(id))
      warnings.push(`requirements.yaml: requirement ${id} is not referenced by any operation`);
  }

  // AsyncAPI payloads must point at existing OpenAPI component schemas.
  const schemas =
    isRecord(openapi.components) && isRecord(openapi.components.schemas) ? openapi.components.schemas : {};
  const messages =
    isRecord(asyncapi.components) && isRecord(asyncapi.components.messages)
      ? asyncapi.components.messages
      : {};
  for (const [key, m] of Object.entries(messages)) {
    const payload = isRecord(m) ? m.payload : undefined;
    if (!isRecord(payload) || typeof payload.$ref !== 'string') continue;
    const [file, fragment = ''] = payload.$ref.split('#');
    if (!file || !/openapi\.ya?ml$/.test(file)) continue;
    const name = /^\/components\/schemas\/([^/]+)$/.exec(fragment)?.[1];
    if (!name || !Object.hasOwn(schemas, name)) {
      errors.push(
        `asyncapi.yaml: message "${key}" payload ${payload.$ref} is not an OpenAPI component schema`,
      );
    }
  }
  return { errors, warnings };
}

/** Checks the OpenAPI component schemas with ajv (draft 2020-12, as `createValidators` uses them). */
export function checkComponentSchemas(openapi: Json): string[] {
  const errors: string[] = [];
  const ajv = new Ajv2020({ allErrors: true, strict: false });
  addFormats(ajv);
  const id = 'urn:ocg:lint:openapi';
  try {
    ajv.addSchema(openapi, id);
  } catch (e) {
    return [`openapi.yaml: cannot be loaded as a schema document: ${(e as Error).message}`];
  }
  const schemas =
    isRecord(openapi.components) && isRecord(openapi.components.schemas) ? openapi.components.schemas : {};
  for (const [name, schema] of Object.entries(schemas)) {
    const where = `openapi.yaml: components.schemas.${name}`;
    if (!ajv.validateSchema(schema as object)) {
      for (const m of formatAjvErrors(ajv.errors)) errors.push(`${where} is not valid JSON Schema: ${m}`);
      continue;
    }
    let validate: ReturnType<typeof ajv.compile>;
    try {
      validate = ajv.compile({ $ref: `${id}#/components/schemas/${encodeURIComponent(name)}` });
    } catch (e) {
      errors.push(`${where} does not compile: ${(e as Error).message}`);
      continue;
    }
    const examples = isRecord(schema) && Array.isArray(schema.examples) ? schema.examples : [];
    examples.forEach((example, i) => {
      if (!validate(example)) {
        for (const m of formatAjvErrors(validate.errors))
          errors.push(`${where}: example ${i} is invalid: ${m}`);
      }
    });
  }
  return errors;
}

/** Runs every check on the spec files of `opts.dir` (default: this package's spec). */
export async function lintSpec(opts: LintSpecOptions = {}): Promise<LintResult> {
  const dir = opts.dir ?? specFiles.dir;
  const openapiFile = path.join(dir, 'openapi.yaml');
  const asyncapiFile = path.join(dir, 'asyncapi.yaml');
  const requirementsFile = path.join(dir, 'requirements.yaml');
  const errors: string[] = [];
  const warnings: string[] = [];

  const readYaml = async (file: string): Promise<Json | undefined> => {
    try {
      const doc: unknown = parseYaml(await readFile(file, 'utf8'));
      if (isRecord(doc)) return doc;
      errors.push(`${path.basename(file)}: not a YAML mapping`);
    } catch (e) {
      errors.push(`${path.basename(file)}: ${(e as Error).message}`);
    }
    return undefined;
  };
  const [openapi, asyncapi, requirementsDoc] = await Promise.all([
    readYaml(openapiFile),
    readYaml(asyncapiFile),
    readYaml(requirementsFile),
  ]);

  // 1. OpenAPI document against the OpenAPI 3.1 schema (swagger-parser also resolves every $ref).
  if (openapi) {
    try {
      await SwaggerParser.validate(openapiFile);
    } catch (e) {
      const err = e as Error & { details?: { instancePath?: string; message?: string }[] };
      const details = err.details?.map((d) => `${d.instancePath ?? ''} ${d.message ?? ''}`.trim()).join('; ');
      errors.push(`openapi.yaml: ${err.message.split('\n')[0]}${details ? ` (${details})` : ''}`);
    }
  }

  // 2. AsyncAPI document with the official parser (error-severity diagnostics fail; warnings are reported).
  if (asyncapi) {
    try {
      const { diagnostics } = await fromFile(new Parser(), asyncapiFile).parse();
      for (const d of diagnostics) {
        const line = `asyncapi.yaml: ${d.code} at /${d.path.join('/')}: ${d.message}`;
        if (d.severity === 0) errors.push(line);
        else if (d.severity === 1) warnings.push(line);
      }
    } catch (e) {
      errors.push(`asyncapi.yaml: ${(e as Error).message}`);
    }
  }

  // 3. requirements.yaml against its JSON Schema.
  if (requirementsDoc) {
    const schema = JSON.parse(
      await readFile(opts.requirementsSchema ?? specFiles.requirementsSchema, 'utf8'),
    );
    const ajv = new Ajv2020({ allErrors: true, strict: true });
    const validate = ajv.compile(schema);
    if (!validate(requirementsDoc)) {
      for (const m of formatAjvErrors(validate.errors)) errors.push(`requirements.yaml: ${m}`);
    }
  }

  // 4. Every component schema is valid JSON Schema 2020-12, compiles (its $refs resolve), and accepts its examples.
  if (openapi) errors.push(...checkComponentSchemas(openapi));

  // 5. Cross-references.
  if (openapi && asyncapi && requirementsDoc) {
    const x = checkCrossReferences(openapi, asyncapi, requirementsDoc);
    errors.push(...x.errors);
    warnings.push(...x.warnings);
  }
  return { errors, warnings };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const dir = process.argv[2] ? path.resolve(process.argv[2]) : undefined;
  const { errors, warnings } = await lintSpec(dir ? { dir } : {});
  for (const w of warnings) console.warn(`warning: ${w}`);
  for (const e of errors) console.error(`error: ${e}`);
  if (errors.length > 0) {
    console.error(`spec lint failed: ${errors.length} error(s)`);
    process.exit(1);
  }
  console.log(`spec lint passed (${warnings.length} warning(s))`);
}
