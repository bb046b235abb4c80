import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { lintFixtures } from '../../fixtures/lint-fixtures.ts';
import { checkCrossReferences, lintSpec } from '../scripts/lint-spec.ts';
import { specFiles } from '../src/index.ts';

// biome-ignore lint/suspicious/noExplicitAny: the tests edit parsed YAML documents of any shape.
type Json = Record<string, any>;

const tmpDirs: string[] = [];
afterAll(async () => {
  await Promise.all(tmpDirs.map((d) => rm(d, { recursive: true, force: true })));
});

async function brokenCopy(edit: {
  openapi?: (d: Json) => void;
  requirements?: (d: Json) => void;
  asyncapi?: (d: Json) => void;
}) {
  const dir = await mkdtemp(path.join(tmpdir(), 'ocg-spec-lint-'));
  tmpDirs.push(dir);
  for (const [name, fn] of [
    ['openapi.yaml', edit.openapi],
    ['asyncapi.yaml', edit.asyncapi],
    ['requirements.yaml', edit.requirements],
  ] as const) {
    const src = path.join(specFiles.dir, name);
    if (!fn) {
      await copyFile(src, path.join(dir, name));
      continue;
    }
    const doc = parse(await readFile(src, 'utf8'));
    fn(doc);
    await writeFile(path.join(dir, name), stringify(doc));
  }
  return dir;
}

async function loadDocs() {
  const read = async (f: string) => parse(await readFile(f, 'utf8')) as Json;
  return {
    openapi: await read(specFiles.openapi),
    asyncapi: await read(specFiles.asyncapi),
    requirements: await read(specFiles.requirements),
  };
}

describe('lintSpec', () => {
  it('passes on the real spec', async () => {
    const { errors, warnings } = await lintSpec();
    expect(errors).toEqual([]);
    expect(warnings).toEqual([]);
  });

  const cases: {
    name: string;
    edit: Parameters<typeof brokenCopy>[0];
    message: string | RegExp;
  }[] = [
    {
      name: 'unknown requirement id in x-ocg-requirements',
      edit: { openapi: (d) => d.paths['/healthz'].get['x-ocg-requirements'].push('DISCOVERY-99') },
      message:
        'openapi.yaml: GET /healthz (getHealth): x-ocg-requirements names unknown requirement "DISCOVERY-99"',
    },
    {
      name: 'operation without x-ocg-feature',
      edit: { openapi: (d) => delete d.paths['/protocol'].get['x-ocg-feature'] },
      message: 'openapi.yaml: GET /protocol (getProtocol) has no x-ocg-feature',
    },
    {
      name: 'x-ocg-feature naming an undeclared feature',
      edit: { openapi: (d) => (d.paths['/readyz'].get['x-ocg-feature'] = 'nope') },
      message: 'openapi.yaml: GET /readyz (getReadiness): x-ocg-feature "nope" is not a declared feature',
    },
    {
      name: 'duplicate requirement id',
      edit: { requirements: (d) => d.requirements.push({ ...d.requirements[0] }) },
      message: 'requirements.yaml: duplicate requirement id "INFERENCE-1"',
    },
    {
      name: 'requirement with an undeclared feature',
      edit: { requirements: (d) => (d.requirements[0].feature = 'teleport') },
      message: 'requirements.yaml: requirement INFERENCE-1 names undeclared feature "teleport"',
    },
    {
      name: 'feature with an undeclared profile',
      edit: { requirements: (d) => (d.features[0].profile = 'gold') },
      message: 'requirements.yaml: feature "inference" names undeclared profile "gold"',
    },
    {
      name: 'requirement id of the wrong shape',
      edit: { requirements: (d) => (d.requirements[0].id = 'inference-1') },
      message: /requirement id "inference-1" does not match/,
    },
    {
      name: 'requirement level not used in its text',
      edit: { requirements: (d) => (d.requirements[0].level = 'SHOULD') },
      message: 'requirements.yaml: requirement INFERENCE-1 is SHOULD but its text does not say SHOULD',
    },
    {
      name: 'requirements.yaml failing its schema',
      edit: { requirements: (d) => (d.requirements[1].level = 'MUSTN') },
      message: /^requirements\.yaml: \/requirements\/1\/level: must be equal to one of the allowed values/,
    },
    {
      name: 'response without the request-id header',
      edit: { openapi: (d) => delete d.paths['/healthz'].get.responses['200'].headers },
      message: 'openapi.yaml: GET /healthz (getHealth): response 200 does not declare the request-id header',
    },
    {
      name: 'invalid OpenAPI document',
      edit: { openapi: (d) => (d.paths['/healthz'].get.responses = 'nothing') },
      message: /^openapi\.yaml: Swagger schema validation failed/,
    },
    {
      name: 'a component schema that is not JSON Schema',
      edit: { openapi: (d) => (d.components.schemas.Health.properties.status.type = 'strnig') },
      message: /^openapi\.yaml: components\.schemas\.Health is not valid JSON Schema: /,
    },
    {
      name: 'a component schema with a dangling $ref',
      edit: {
        openapi: (d) => (d.components.schemas.Message.properties.usage.$ref = '#/components/schemas/Nope'),
      },
      message: /^openapi\.yaml: components\.schemas\.Message does not compile: /,
    },
    {
      name: 'a component schema example that breaks the schema',
      edit: { openapi: (d) => (d.components.schemas.ErrorResponse.examples[0].request_id = 'nope') },
      message:
        /^openapi\.yaml: components\.schemas\.ErrorResponse: example 0 is invalid: \/request_id: must match pattern/,
    },
    {
      name: 'invalid AsyncAPI document',
      edit: { asyncapi: (d) => (d.operations.sendMessageStream.action = 'shout') },
      message: /^asyncapi\.yaml: asyncapi-document-resolved/,
    },
  ];

  it.each(cases)('fails on a copy with $name', async ({ edit, message }) => {
    const dir = await brokenCopy(edit);
    const { errors } = await lintSpec({ dir });
    expect(errors.length).toBeGreaterThan(0);
    if (typeof message === 'string') expect(errors).toContain(message);
    else
      expect(
        errors.some((e) => message.test(e)),
        errors.join('\n'),
      ).toBe(true);
  });

  it('checkCrossReferences reports an AsyncAPI payload that is no OpenAPI component schema', async () => {
    const { openapi, asyncapi, requirements } = await loadDocs();
    asyncapi.components.messages.ping.payload.$ref = './openapi.yaml#/components/schemas/Pong';
    expect(checkCrossReferences(openapi, asyncapi, requirements).errors).toEqual([
      'asyncapi.yaml: message "ping" payload ./openapi.yaml#/components/schemas/Pong is not an OpenAPI component schema',
    ]);
  });

  it('checkCrossReferences warns about a requirement no operation references', async () => {
    const { openapi, asyncapi, requirements } = await loadDocs();
    requirements.requirements.push({ id: 'ERRORS-99', level: 'MAY', feature: 'inference', text: 'It MAY.' });
    const result = checkCrossReferences(openapi, asyncapi, requirements);
    expect(result.errors).toEqual([]);
    expect(result.warnings).toEqual([
      'requirements.yaml: requirement ERRORS-99 is not referenced by any operation',
    ]);
  });
});

describe('lintFixtures', () => {
  async function fixturesCopy(name: string, doc: unknown) {
    const dir = await mkdtemp(path.join(tmpdir(), 'ocg-fixtures-lint-'));
    tmpDirs.push(dir);
    await copyFile(
      path.join(specFiles.dir, '../fixtures/fixture.schema.json'),
      path.join(dir, 'fixture.schema.json'),
    );
    await writeFile(path.join(dir, name), JSON.stringify(doc));
    return dir;
  }
  const base = { kind: 'request-body', description: 'd', requirements: ['ERRORS-3'] };
  const okCase = { name: 'a', operationId: 'createMessage', body: {}, valid: false };

  it.each([
    {
      name: 'unknown requirement id',
      doc: { ...base, requirements: ['ERRORS-77'], cases: [okCase] },
      problem: 'x.json: unknown requirement id "ERRORS-77"',
    },
    {
      name: 'unknown operationId',
      doc: { ...base, cases: [{ ...okCase, operationId: 'fly' }] },
      problem: 'x.json: /cases/0: unknown operationId "fly"',
    },
    {
      name: 'duplicate case name',
      doc: { ...base, cases: [okCase, okCase] },
      problem: 'x.json: /cases/1: duplicate case name "a"',
    },
    {
      name: 'case shape of another kind',
      doc: { ...base, kind: 'sse', cases: [okCase] },
      problem: "x.json: /cases/0: must have required property 'transcript'",
    },
    {
      name: 'case with an unknown field',
      doc: { ...base, cases: [{ ...okCase, vaild: true }] },
      problem: 'x.json: /cases/0: must NOT have unevaluated properties',
    },
  ])('reports $name', async ({ doc, problem }) => {
    const dir = await fixturesCopy('x.json', doc);
    expect(await lintFixtures(dir)).toContain(problem);
  });

  it('accepts a well-formed file', async () => {
    const dir = await fixturesCopy('x.json', { ...base, cases: [okCase] });
    expect(await lintFixtures(dir)).toEqual([]);
  });
});
