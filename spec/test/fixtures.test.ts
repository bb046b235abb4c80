import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { lintFixtures, listFixtureFiles } from '../../fixtures/lint-fixtures.ts';
import { createValidators, parseSseTranscript, type SpecValidators } from '../src/index.ts';

interface FixtureFile {
  kind: 'sse' | 'error-envelope' | 'request-body';
  description: string;
  requirements: string[];
  cases: Record<string, unknown>[];
}

const files = await listFixtureFiles();
const fixtures: [string, FixtureFile][] = await Promise.all(
  files.map(
    async (f) =>
      [path.relative(path.dirname(path.dirname(f)), f), JSON.parse(await readFile(f, 'utf8'))] as [
        string,
        FixtureFile,
      ],
  ),
);
const ofKind = (kind: FixtureFile['kind']) =>
  fixtures
    .filter(([, doc]) => doc.kind === kind)
    .flatMap(([file, doc]) => doc.cases.map((c) => ({ file, name: String(c.name), c })));

let v: SpecValidators;
beforeAll(async () => {
  v = await createValidators();
});

describe('fixture files', () => {
  it('exist for every kind', () => {
    expect(ofKind('sse').length).toBeGreaterThan(5);
    expect(ofKind('error-envelope').length).toBeGreaterThan(9);
    expect(ofKind('request-body').length).toBeGreaterThan(5);
  });
  it('pass the fixture lint', async () => {
    expect(await lintFixtures()).toEqual([]);
  });
});

describe('request bodies', () => {
  it.each(ofKind('request-body'))('$file: $name', ({ c }) => {
    const errors = v.validateRequestBody(String(c.operationId), c.body);
    if (c.valid) {
      expect(errors).toEqual([]);
    } else {
      expect(errors.length).toBeGreaterThan(0);
      for (const expected of (c.errors as string[] | undefined) ?? []) expect(errors).toContain(expected);
    }
  });
});

describe('error envelopes', () => {
  it.each(ofKind('error-envelope'))('$file: $name', ({ c }) => {
    for (const operationId of ['createMessage', 'countMessageTokens']) {
      const errors = v.validateResponse(operationId, {
        status: Number(c.status),
        contentType: 'application/json',
        body: c.body,
      });
      if (c.valid) expect(errors).toEqual([]);
      else expect(errors.length).toBeGreaterThan(0);
    }
    if (c.valid && typeof c.errorType === 'string') {
      expect((c.body as { error: { type: string } }).error.type).toBe(c.errorType);
    }
  });
});

describe('SSE transcripts', () => {
  it.each(ofKind('sse'))('$file: $name', ({ c }) => {
    const parsed = parseSseTranscript(String(c.transcript)).map(({ event, data }) => ({ event, data }));
    expect(parsed).toEqual(c.events);
    const perEvent = parsed.map(({ event, data }) => v.validateSseEvent(event, data));
    if (c.valid) {
      expect(perEvent.flat()).toEqual([]);
    } else {
      expect(perEvent.every((errors) => errors.length > 0)).toBe(true);
    }
    // The same transcript as a 200 text/event-stream body of createMessage.
    const asResponse = v.validateResponse('createMessage', {
      status: 200,
      contentType: 'text/event-stream; charset=utf-8',
      body: String(c.transcript),
    });
    if (c.valid) expect(asResponse).toEqual([]);
    else expect(asResponse.length).toBeGreaterThan(0);
  });
});
