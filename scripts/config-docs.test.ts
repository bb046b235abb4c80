import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { configRows, docFile, renderConfigDocs, schemaFile } from './config-docs.ts';

const schema = JSON.parse(readFileSync(schemaFile, 'utf8'));

describe('docs/configuration.md', () => {
  it('is generated from the current config schema', () => {
    expect(readFileSync(docFile, 'utf8')).toBe(renderConfigDocs(schema));
  });

  it.each([
    ['server.port', { type: 'integer', default: '`8080`' }],
    ['auth.staticTokens[].token', { type: 'string', required: true }],
    ['upstreams[].kind', { type: '`anthropic` \\| `bedrock` \\| `vertex`', required: true }],
    ['log.level', { default: '`"info"`' }],
  ])('documents %s', (field, want) => {
    const row = configRows(schema).find((r) => r.path === field);
    expect(row).toMatchObject(want);
  });
});
