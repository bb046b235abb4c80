/**
 * The real Claude Code CLI against a scripted stand-in gateway that records every request: pins down the client
 * contract OCG must meet (docs/claude-code-client.md) for the pinned CLI version, independently of the reference
 * gateway, and checks the harness itself (scratch HOME, pty driving, the managed-settings namespace).
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  type ClaudeScratch,
  createClaudeScratch,
  namespaceCommand,
  prerequisites,
  runClaude,
  Screen,
  skipReason,
  startClaudeTerminal,
  until,
} from './claude-code-harness.ts';

interface Seen {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}

const SETTINGS = {
  env: { CLAUDE_CODE_ENABLE_GATEWAY_MODEL_DISCOVERY: '1', OCG_POLICY_MARKER: 'from-policy' },
};

function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v && typeof v === 'object') {
    return Object.fromEntries(
      Object.keys(v)
        .sort()
        .map((k) => [k, sortKeys((v as Record<string, unknown>)[k])]),
    );
  }
  return v;
}
const CHECKSUM = `sha256:${createHash('sha256')
  .update(JSON.stringify(sortKeys(SETTINGS)))
  .digest('hex')}`;

const sse = (text: string) =>
  [
    [
      'message_start',
      {
        type: 'message_start',
        message: {
          id: 'msg_stand_in',
          type: 'message',
          role: 'assistant',
          model: 'claude-sonnet-4-5',
          content: [],
          stop_reason: null,
          stop_sequence: null,
          usage: { input_tokens: 10, output_tokens: 1 },
        },
      },
    ],
    [
      'content_block_start',
      { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } },
    ],
    ['content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text } }],
    ['content_block_stop', { type: 'content_block_stop', index: 0 }],
    [
      'message_delta',
      {
        type: 'message_delta',
        delta: { stop_reason: 'end_turn', stop_sequence: null },
        usage: { output_tokens: 3 },
      },
    ],
    ['message_stop', { type: 'message_stop' }],
  ]
    .map(([event, data]) => `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`)
    .join('');

/** A stand-in gateway: RFC 8414 metadata, a device flow approved by `approve()`, managed settings, models, SSE. */
async function startStandIn() {
  const seen: Seen[] = [];
  let approved = false;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const url = new URL(req.url ?? '/', base);
      seen.push({
        method: req.method ?? '',
        path: `${url.pathname}${url.search}`,
        headers: req.headers,
        body,
      });
      const json = (status: number, value: unknown, headers: Record<string, string> = {}) => {
        res.writeHead(status, { 'content-type': 'application/json', ...headers });
        res.end(JSON.stringify(value));
      };
      switch (url.pathname) {
        case '/.well-known/oauth-authorization-server':
          return json(200, {
            issuer: base,
            device_authorization_endpoint: `${base}/oauth/device_authorization`,
            token_endpoint: `${base}/oauth/token`,
            revocation_endpoint: `${base}/oauth/revoke`,
            grant_types_supported: ['urn:ietf:params:oauth:grant-type:device_code', 'refresh_token'],
            response_types_supported: [],
            token_endpoint_auth_methods_supported: ['none'],
          });
        case '/oauth/device_authorization':
          return json(
            200,
            {
              device_code: 'stand-in-device-code-0123456789abcdefghijklmnop',
              user_code: 'BCDF-GHJK',
              verification_uri: `${base}/device`,
              verification_uri_complete: `${base}/device?user_code=BCDF-GHJK`,
              expires_in: 600,
              interval: 1,
            },
            { 'cache-control': 'no-store' },
          );
        case '/oauth/token':
          if (!approved) return json(400, { error: 'authorization_pending' });
          return json(
            200,
            {
              access_token: 'stand-in-access-token',
              token_type: 'Bearer',
              expires_in: 3600,
              refresh_token: 'stand-in-refresh',
            },
            { 'cache-control': 'no-store' },
          );
        case '/managed/settings':
          if (req.headers['if-none-match'] === `"${CHECKSUM}"`) {
            res.writeHead(304, { etag: `"${CHECKSUM}"` });
            return res.end();
          }
          return json(
            200,
            { uuid: '5f0c6f4e-0000-4000-8000-000000000001', checksum: CHECKSUM, settings: SETTINGS },
            { etag: `"${CHECKSUM}"` },
          );
        case '/v1/models':
          return json(200, {
            data: [
              {
                type: 'model',
                id: 'claude-sonnet-4-5',
                display_name: 'Claude Sonnet 4.5',
                created_at: '2025-09-29T00:00:00Z',
              },
            ],
            has_more: false,
            first_id: 'claude-sonnet-4-5',
            last_id: 'claude-sonnet-4-5',
          });
        case '/v1/messages':
          res.writeHead(200, { 'content-type': 'text/event-stream' });
          return res.end(sse('Answer from the stand-in gateway'));
        default:
          return json(404, { type: 'error', error: { type: 'not_found_error', message: 'not here' } });
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: base,
    seen,
    approve: () => {
      approved = true;
    },
    paths: () => seen.map((s) => `${s.method} ${s.path}`),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe('Screen (the terminal model)', () => {
  it.each([
    ['plain text and CR/LF', 'ab\r\ncd', 'ab\ncd'],
    ['cursor to column (CHA) stands in for spaces', 'You\x1b[5Gare', 'You are'],
    ['absolute position (CUP) and erase line', 'xxxx\x1b[1;2H\x1b[Kq', 'xq'],
    ['relative down and right', 'a\r\x1b[2B\x1b[3Cb', 'a\n\n   b'],
    ['colours are ignored', '\x1b[38;5;153mblue\x1b[39m', 'blue'],
    ['OSC strings are ignored', '\x1b]0;title\x07t', 't'],
    ['a sequence split across writes', ['a\x1b[', '3Gb'], 'a b'],
  ])('%s', (_name, input, want) => {
    const s = new Screen(20, 4);
    for (const part of Array.isArray(input) ? input : [input]) s.write(part);
    expect(s.text().replace(/\n+$/, '')).toBe(want);
  });
});

const pre = prerequisites();
const cliSkip = skipReason(pre.cliProblem);
const nsSkip = cliSkip ?? skipReason(pre.namespaceProblem);

describe.skipIf(cliSkip !== null)('Claude Code CLI against a stand-in gateway', () => {
  let gw: Awaited<ReturnType<typeof startStandIn>>;
  let scratch: ClaudeScratch;
  beforeAll(async () => {
    gw = await startStandIn();
  });
  afterAll(async () => {
    await gw?.close();
  });
  afterEach(() => {
    scratch?.remove();
    gw.seen.length = 0;
  });

  it('is the pinned version', () => {
    expect(pre.version).toMatch(/^2\.1\.332 \(Claude Code\)/);
  });

  it('gateway mode with ANTHROPIC_AUTH_TOKEN: one streamed POST /v1/messages?beta=true with the bearer', async () => {
    scratch = createClaudeScratch();
    const run = await runClaude(scratch, ['-p', 'hello'], {
      env: { CLAUDE_CODE_USE_GATEWAY: '1', ANTHROPIC_BASE_URL: gw.url, ANTHROPIC_AUTH_TOKEN: 'token-in-env' },
    });
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout.trim()).toBe('Answer from the stand-in gateway');
    expect(gw.paths()).toEqual(['POST /v1/messages?beta=true']);
    const [req] = gw.seen;
    expect(req?.headers).toMatchObject({
      authorization: 'Bearer token-in-env',
      'anthropic-version': '2023-06-01',
      'x-app': 'cli',
      'content-type': 'application/json',
    });
    expect(req?.headers['x-api-key']).toBeUndefined();
    expect(req?.headers['user-agent']).toMatch(/^claude-cli\/2\.1\.332 \(external, sdk-cli\)$/);
    expect(req?.headers['content-length']).toBe(String(Buffer.byteLength(req?.body ?? '')));
    const body = JSON.parse(req?.body ?? '{}') as Record<string, unknown>;
    expect(body).toMatchObject({ stream: true, max_tokens: expect.any(Number) });
    expect(typeof (body.metadata as { user_id?: unknown }).user_id).toBe('string');
  });

  it('apiKeyHelper: its output goes in both Authorization: Bearer and x-api-key', async () => {
    scratch = createClaudeScratch();
    const run = await runClaude(
      scratch,
      ['-p', 'hello', '--settings', JSON.stringify({ apiKeyHelper: 'echo helper-token' })],
      {
        env: { ANTHROPIC_BASE_URL: gw.url },
      },
    );
    expect(run.code).toBe(0);
    expect(gw.seen[0]?.headers).toMatchObject({
      authorization: 'Bearer helper-token',
      'x-api-key': 'helper-token',
    });
  });

  it.skipIf(nsSkip !== null)(
    'managed settings reach the CLI only inside the namespace, never the real /etc',
    async () => {
      scratch = createClaudeScratch();
      scratch.setManagedSettings({ forceLoginMethod: 'gateway', forceLoginGatewayUrl: gw.url });
      const run = await runClaude(scratch, ['-p', 'hello']);
      expect(run.code).toBe(1);
      expect(`${run.stdout}${run.stderr}`).toMatch(/Not signed in to the Cloud gateway/);
      expect(existsSync('/etc/claude-code/managed-settings.json')).toBe(false);
      expect(namespaceCommand(scratch.etcTop, ['true'])[0]).toBe('unshare');
    },
  );

  it.skipIf(nsSkip !== null)(
    'gateway login through a pty: discovery, trust, device code, token, managed settings (then 304), models, prompt',
    async () => {
      scratch = createClaudeScratch();
      scratch.setManagedSettings({ forceLoginMethod: 'gateway', forceLoginGatewayUrl: gw.url });
      const term = startClaudeTerminal(scratch);
      try {
        await term.waitForText(/Claude Code v[\d.]+/, 30_000);
        await term.waitForText(/^❯/m);
        await term.type('/login');
        await term.confirm('/login');
        await term.confirm('Enter to connect');
        await term.choose('Yes, trust this gateway');
        const [, code] = await term.waitForText(/Code:\s+([B-Z]{4}-[B-Z]{4})/);
        expect(code).toBe('BCDF-GHJK');
        expect(term.screen()).toContain(`${gw.url}/device`);
        gw.approve();
        await term.waitForText('Connected to Cloud gateway');
        await term.confirm('Connected to Cloud gateway');
        await term.choose('Yes, I trust these settings');
        await until(
          () => gw.paths().includes('GET /v1/models?limit=1000'),
          20_000,
          () => term.screen(),
        );
      } finally {
        await term.close();
      }
      const paths = gw.paths().filter((p) => p !== 'POST /oauth/token');
      expect(paths.slice(0, 2)).toEqual([
        'GET /.well-known/oauth-authorization-server',
        'POST /oauth/device_authorization',
      ]);
      expect(paths).toContain('GET /v1/models?limit=1000');
      const device = gw.seen.find((s) => s.path === '/oauth/device_authorization');
      expect(device?.body).toBe('surface=claude_code');
      const polls = gw.seen.filter((s) => s.path === '/oauth/token');
      expect(new URLSearchParams(polls[0]?.body).get('grant_type')).toBe(
        'urn:ietf:params:oauth:grant-type:device_code',
      );
      const settings = gw.seen.filter((s) => s.path === '/managed/settings');
      expect(settings[0]?.headers.authorization).toBe('Bearer stand-in-access-token');
      expect(settings.some((s) => s.headers['if-none-match'] === `"${CHECKSUM}"`)).toBe(true);
      expect(scratch.credentials()).toMatchObject({
        gatewayTrust: { '127.0.0.1': 'http-loopback' },
        enterpriseGateway: { url: gw.url, jwt: 'stand-in-access-token', idpRefreshToken: 'stand-in-refresh' },
      });

      // A later non-interactive run: managed settings with the cached ETag, models, then the prompt.
      gw.seen.length = 0;
      const run = await runClaude(scratch, ['-p', 'hello']);
      expect(run.code).toBe(0);
      expect(run.stdout.trim()).toBe('Answer from the stand-in gateway');
      expect(gw.paths()).toEqual([
        'GET /managed/settings',
        'GET /v1/models?limit=1000',
        'POST /v1/messages?beta=true',
      ]);
      expect(gw.seen[0]?.headers['if-none-match']).toBe(`"${CHECKSUM}"`);
    },
    90_000,
  );
});
