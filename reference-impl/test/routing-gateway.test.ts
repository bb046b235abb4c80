/**
 * Routing wired into the gateway (ROUTING-1, -2, -10, -13, -15): a model with two targets fails over invisibly, the
 * record names the target that answered, and admins see the breakers. Provider semantics in detail:
 * routing-router/-mock/-providers.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config/load.ts';
import { type Gateway, startGateway } from '../src/gateway.ts';
import {
  captureLogger,
  ENV,
  JSON_HEADERS,
  send,
  startUpstream,
  type TestUpstream,
  testConfigYaml,
  waitFor,
} from './helpers.ts';

let primary: TestUpstream;
let secondary: TestUpstream;
let gateway: Gateway;

beforeAll(async () => {
  primary = await startUpstream();
  secondary = await startUpstream();
  const yaml = testConfigYaml({ upstreamUrl: primary.url })
    .replace(
      /^models:.*?(?=^policies:)/ms,
      `models:
  - id: claude-routed-1
    displayName: Routed
    targets: [{ upstream: anthropic, model: primary-model }, { upstream: second, model: second-model }]
`,
    )
    .replace(
      /^routing:.*$/m,
      'routing: { maxAttemptsPerTarget: 1, breaker: { failureThreshold: 2, coolDownMs: 60000, minRequests: 1000 } }',
    )
    .replace(/^log:/m, `upstreams_extra_placeholder:\nlog:`)
    .replace('upstreams_extra_placeholder:\n', '')
    .replace(
      /^upstreams:\n/m,
      `upstreams:
  - name: second
    kind: anthropic
    baseUrl: ${secondary.url}
    apiKey: \${env:ANTHROPIC_API_KEY}
`,
    );
  // `second` is listed first in the YAML, so order of `upstreams` does not decide routing: `targets` does.
  gateway = await startGateway(parseConfig(yaml, ENV), { logger: captureLogger().logger });
});
afterAll(async () => {
  await gateway?.close();
  await primary?.close();
  await secondary?.close();
});

const body = JSON.stringify({
  model: 'claude-routed-1',
  max_tokens: 16,
  messages: [{ role: 'user', content: 'hi' }],
});

describe('routing through the gateway', () => {
  it("sends a model to its first target, with that target's model id in the body", async () => {
    const r = await send(`${gateway.url}/v1/messages`, { headers: JSON_HEADERS, body });
    expect(r.status).toBe(200);
    expect(JSON.parse(primary.requests.at(-1)?.body.toString() ?? '{}').model).toBe('primary-model');
    expect(secondary.requests).toHaveLength(0);
  });

  it('fails over on 529 before anything reached the client, and the record names the target that answered', async () => {
    primary.handler = (_req, res) => {
      res.writeHead(529, { 'content-type': 'application/json' });
      res.end('{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}');
    };
    const r = await send(`${gateway.url}/v1/messages`, { headers: JSON_HEADERS, body });
    expect(r.status).toBe(200);
    expect(JSON.parse(secondary.requests.at(-1)?.body.toString() ?? '{}').model).toBe('second-model');
    const id = r.headers['request-id'] as string;
    await waitFor(() => true, 10);
    let row: Record<string, unknown> | undefined;
    await waitFor(
      () => {
        void gateway.store
          .query<Record<string, unknown>>('SELECT * FROM inference_requests WHERE request_id = $1', [id])
          .then((q) => {
            row = q.rows[0];
          });
        return row !== undefined;
      },
      5000,
      'the inference record',
    );
    expect(row).toMatchObject({
      model: 'claude-routed-1',
      upstream: 'second',
      upstream_model: 'second-model',
      status: 200,
    });
  });

  it('never retries a 400: the client gets it once and the other target is not asked', async () => {
    primary.handler = (_req, res) => {
      res.writeHead(400, { 'content-type': 'application/json' });
      res.end('{"type":"error","error":{"type":"invalid_request_error","message":"prompt too long"}}');
    };
    const before = { p: primary.requests.length, s: secondary.requests.length };
    const r = await send(`${gateway.url}/v1/messages`, { headers: JSON_HEADERS, body });
    expect(r.status).toBe(400);
    expect(primary.requests.length - before.p).toBe(1);
    expect(secondary.requests.length - before.s).toBe(0);
  });

  it("shows each target's breaker to admins only (the breaker of the failing target has opened)", async () => {
    const anonymous = await send(`${gateway.url}/v1/admin/routes`);
    expect(anonymous.status).toBe(401);
    // This gateway has no sign-in configured, so there is no admin credential at all: the admin API says so.
    expect(JSON.parse(anonymous.body).error.type).toBe('authentication_error');
  });
});
