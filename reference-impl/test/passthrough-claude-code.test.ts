/**
 * The real Claude Code CLI (the pinned devDependency) in Bedrock mode, pointed at the gateway's Bedrock-shaped
 * surface (issue 4, "A Claude Code CLI configured for Bedrock pass-through answers a prompt through the gateway"):
 * `CLAUDE_CODE_USE_BEDROCK=1`, `ANTHROPIC_BEDROCK_BASE_URL=<gateway>`, `CLAUDE_CODE_SKIP_BEDROCK_AUTH=1`,
 * `AWS_REGION`, and the gateway access token presented either as a Bedrock API key (`AWS_BEARER_TOKEN_BEDROCK`,
 * which the CLI sends as `Authorization: Bearer`), from an `apiKeyHelper`, or through `ANTHROPIC_CUSTOM_HEADERS`. The answer comes from the
 * gateway's upstream through `/model/{id}/invoke-with-response-stream` as an AWS event stream, and the gateway
 * records the request against the token's user and the catalogue model. Vertex mode (`CLAUDE_CODE_USE_VERTEX=1`,
 * `ANTHROPIC_VERTEX_BASE_URL=<gateway>/v1`, `CLAUDE_CODE_SKIP_VERTEX_AUTH=1`, the token in `ANTHROPIC_CUSTOM_HEADERS`)
 * is checked the same way. What the CLI sends: docs/claude-code-client.md
 * ("Mode 4: Bedrock pass-through").
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config/load.ts';
import { type Gateway, startGateway } from '../src/gateway.ts';
import {
  type ClaudeScratch,
  createClaudeScratch,
  prerequisites,
  runClaude,
  skipReason,
} from './claude-code-harness.ts';
import {
  type CapturedLogger,
  captureLogger,
  ENV,
  startUpstream,
  type TestUpstream,
  TOKEN,
  testConfigYaml,
} from './helpers.ts';

/** The model Claude Code 2.1.332 asks Bedrock for by default (`us.anthropic.claude-opus-5-5`), in the catalogue. */
const BEDROCK_DEFAULT_MODEL = 'us.anthropic.claude-opus-5-5';
const CATALOGUE_MODEL = 'claude-opus-5-5';

const pre = prerequisites();
const cliSkip = skipReason(pre.cliProblem);

const MODELS = `models:
  - { id: ${CATALOGUE_MODEL}, displayName: Claude Opus 5.5 }
  - { id: claude-sonnet-4-5-20250929, displayName: Claude Sonnet 4.5, aliases: [claude-sonnet-4-5] }
  - { id: claude-haiku-4-5-20251001, displayName: Claude Haiku 4.5, aliases: [claude-haiku-4-5] }
policies:
  - { name: everyone, match: { everyone: true }, models: ['*'] }
log:`;

let upstream: TestUpstream;
let gateway: Gateway;
let log: CapturedLogger;
let scratch: ClaudeScratch;

beforeAll(async () => {
  if (cliSkip) return;
  upstream = await startUpstream();
  const yaml = testConfigYaml({ upstreamUrl: upstream.url }).replace(/models:[\s\S]*?\nlog:/, MODELS);
  log = captureLogger();
  gateway = await startGateway(parseConfig(yaml, ENV), { logger: log.logger });
  scratch = createClaudeScratch();
});

afterAll(async () => {
  scratch?.remove();
  await gateway?.close();
  await upstream?.close();
});

function bedrockEnv(extra: Record<string, string>): Record<string, string> {
  return {
    CLAUDE_CODE_USE_BEDROCK: '1',
    ANTHROPIC_BEDROCK_BASE_URL: gateway.url,
    CLAUDE_CODE_SKIP_BEDROCK_AUTH: '1',
    AWS_REGION: 'us-east-1',
    ...extra,
  };
}

async function rowsSince(
  since: Date,
): Promise<Array<{ subject: string; model: string; stream: boolean; status: number }>> {
  for (let i = 0; i < 100; i++) {
    const { rows } = await gateway.store.query<{
      subject: string;
      model: string;
      stream: boolean;
      status: number;
    }>(
      'SELECT subject, model, stream, status FROM inference_requests WHERE started_at >= $1 ORDER BY started_at',
      [since],
    );
    if (rows.length > 0) return rows;
    await new Promise((r) => setTimeout(r, 20));
  }
  return [];
}

describe.skipIf(cliSkip !== null)('Claude Code in Bedrock (and Vertex) mode through the gateway', () => {
  it.each([
    ['a Bedrock API key (AWS_BEARER_TOKEN_BEDROCK)', { AWS_BEARER_TOKEN_BEDROCK: TOKEN }],
    ['ANTHROPIC_CUSTOM_HEADERS', { ANTHROPIC_CUSTOM_HEADERS: `Authorization: Bearer ${TOKEN}` }],
  ])(
    'claude -p answers through /model/{id}/invoke-with-response-stream, signed in with %s',
    async (_how, auth) => {
      const since = new Date();
      const before = upstream.requests.length;
      const run = await runClaude(scratch, ['-p', 'Say hello'], { env: bedrockEnv(auth), timeoutMs: 60_000 });
      expect(run.stderr).toBe('');
      expect(run.code).toBe(0);
      expect(run.stdout.trim()).toBe('Hello'); // the test upstream's streamed answer
      const sent = upstream.requests.slice(before);
      expect(sent).toHaveLength(1);
      const body = JSON.parse((sent[0]?.body ?? Buffer.alloc(0)).toString('utf8')) as Record<string, unknown>;
      expect(sent[0]?.url).toBe('/v1/messages');
      expect(body).toMatchObject({ model: CATALOGUE_MODEL, stream: true });
      expect(body).not.toHaveProperty('anthropic_version');
      expect(body).not.toHaveProperty('anthropic_beta');
      // The body's `anthropic_beta` joined the client's `anthropic-beta` header.
      expect(String(sent[0]?.headers['anthropic-beta'])).toContain('interleaved-thinking-2025-05-14');
      expect(sent[0]?.headers.authorization).toBeUndefined();
      const rows = await rowsSince(since);
      expect(rows).toEqual([{ subject: 'dev-user', model: CATALOGUE_MODEL, stream: true, status: 200 }]);
      // What the CLI asked the gateway for (its access log): the Bedrock control-plane probe, then the stream.
      const seen = log
        .records()
        .filter((r) => r.msg === 'request' && new Date(String(r.time)) >= since)
        .map((r) => `${r.method} ${r.path} ${r.status}`);
      expect(seen).toEqual([
        'GET /inference-profiles 404',
        `POST /model/${BEDROCK_DEFAULT_MODEL}/invoke-with-response-stream 200`,
      ]);
    },
  );

  it('claude -p in Bedrock mode takes the token from an apiKeyHelper (sent as the bearer)', async () => {
    const settings = path.join(scratch.home, '.claude', 'settings.json');
    const saved = readFileSync(settings, 'utf8');
    writeFileSync(settings, JSON.stringify({ theme: 'dark', apiKeyHelper: `echo ${TOKEN}` }));
    try {
      const since = new Date();
      const run = await runClaude(scratch, ['-p', 'Say hello'], {
        env: bedrockEnv({ ANTHROPIC_MODEL: 'claude-sonnet-4-5' }),
        timeoutMs: 60_000,
      });
      expect({ code: run.code, stdout: run.stdout.trim(), stderr: run.stderr }).toEqual({
        code: 0,
        stdout: 'Hello',
        stderr: '',
      });
      // ANTHROPIC_MODEL is put in the path as is and resolved as a catalogue alias.
      const rows = await rowsSince(since);
      expect(rows).toEqual([
        { subject: 'dev-user', model: 'claude-sonnet-4-5-20250929', stream: true, status: 200 },
      ]);
    } finally {
      writeFileSync(settings, saved);
    }
  });

  it.each([
    // Without any credential the CLI still sends the request (SKIP_BEDROCK_AUTH) and reads the 401 as "not logged in".
    ['no token', {}, /Not logged in/],
    [
      'a token the gateway does not know',
      { AWS_BEARER_TOKEN_BEDROCK: 'tok_unknown_0123456789abcdefghijklmn' },
      /AWS authentication failed.*401 Invalid bearer token/,
    ],
  ] as const)(
    'with %s the gateway answers 401 and the CLI says so (retries off)',
    async (_what, auth, says) => {
      const before = upstream.requests.length;
      const run = await runClaude(scratch, ['-p', 'Say hello'], {
        env: bedrockEnv({ CLAUDE_CODE_MAX_RETRIES: '0', ...auth }),
        timeoutMs: 60_000,
      });
      expect(run.code).not.toBe(0);
      expect(`${run.stdout}${run.stderr}`).toMatch(says);
      expect(upstream.requests.length).toBe(before);
    },
  );

  it('claude -p in Vertex mode answers through :streamRawPredict, the token in ANTHROPIC_CUSTOM_HEADERS', async () => {
    const since = new Date();
    const run = await runClaude(scratch, ['-p', 'Say hello'], {
      env: {
        CLAUDE_CODE_USE_VERTEX: '1',
        ANTHROPIC_VERTEX_BASE_URL: `${gateway.url}/v1`,
        CLAUDE_CODE_SKIP_VERTEX_AUTH: '1',
        ANTHROPIC_VERTEX_PROJECT_ID: 'my-project',
        CLOUD_ML_REGION: 'global',
        ANTHROPIC_CUSTOM_HEADERS: `Authorization: Bearer ${TOKEN}`,
      },
      timeoutMs: 60_000,
    });
    const seen = log
      .records()
      .filter((r) => r.msg === 'request' && new Date(String(r.time)) >= since)
      .map((r) => `${r.method} ${r.path} ${r.status}`);
    expect({ code: run.code, stdout: run.stdout.trim(), stderr: run.stderr, seen }).toEqual({
      code: 0,
      stdout: 'Hello',
      stderr: '',
      seen: [
        'POST /v1/projects/my-project/locations/global/publishers/anthropic/models/claude-opus-5-5:streamRawPredict 200',
      ],
    });
    const rows = await rowsSince(since);
    expect(rows).toEqual([{ subject: 'dev-user', model: CATALOGUE_MODEL, stream: true, status: 200 }]);
  });
});
