/**
 * Policy over HTTP (POLICY-1…6, MODELS-1…3): every branch of the precedence rule as seen through
 * `/managed/settings`, `/v1/models` and the allowlist on `/v1/messages` and `count_tokens`; ETag / `If-None-Match`
 * → 304 computed the way the Claude Code client computes it; 404 "no managed policy" vs 200 `{}`; pushed client
 * environment; paging; one model or 404; allowlist refusals naming the rule, the upstream untouched; aliases
 * rewritten to the canonical id in the forwarded body, byte for byte otherwise.
 *
 * Runs on the real router, pipeline and authenticator with access tokens minted for sessions in PGlite
 * (test/admin-harness.ts).
 */
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ModelConfig, PolicyConfig } from '../src/policy/config.ts';
import { policyUuid } from '../src/policy/managed-settings.ts';
import { findTopLevelMembers, type MemberSpan, replaceSpan } from '../src/policy/request-model.ts';
import { type Harness, startHarness, type TestUser } from './admin-harness.ts';
import { send, TOKEN } from './helpers.ts';

const OPUS = 'claude-opus-4-5-20251101';
const SONNET = 'claude-sonnet-4-5-20250929';
const HAIKU = 'claude-haiku-4-5-20251001';

const MODELS: ModelConfig[] = [
  { id: OPUS, displayName: 'Claude Opus 4.5', aliases: ['claude-opus-4-5'] },
  {
    id: SONNET,
    displayName: 'Claude Sonnet 4.5',
    aliases: ['claude-sonnet-4-5', 'sonnet'],
    createdAt: '2025-09-29T12:00:00Z',
  },
  { id: HAIKU, displayName: 'Claude Haiku 4.5', aliases: ['claude-haiku-4-5'] },
];

/** Config order matters: group policies first, a users policy near the bottom (it still wins). */
const POLICIES: PolicyConfig[] = [
  {
    name: 'platform',
    match: { groups: ['platform-eng'] },
    managedSettings: { env: { TEAM: 'platform' }, permissions: { deny: ['Bash(curl:*)'] } },
    models: ['claude-sonnet-4-5', 'claude-opus-4-5'],
  },
  {
    name: 'contractors',
    match: { groups: ['contractors'] },
    managedSettings: {},
    models: ['claude-haiku-4-5'],
  },
  {
    name: 'staff',
    match: { emailDomains: ['example.com'] },
    managedSettings: { permissions: { deny: ['WebFetch'] } },
    models: [SONNET, 'claude-haiku-4-5'],
  },
  { name: 'labdomain', match: { emailDomains: ['lab.test'] }, managedSettings: { z: 1 }, models: [HAIKU] },
  {
    name: 'mixed',
    match: { groups: ['ml'], emailDomains: ['lab.test'] },
    managedSettings: { m: true },
    models: ['sonnet'],
  },
  {
    name: 'cto',
    match: { users: ['cto@example.com', 'sub-ceo'] },
    managedSettings: { model: 'claude-opus-4-5', env: { CLAUDE_CODE_ENABLE_GATEWAY_MODEL_DISCOVERY: '0' } },
    models: ['*'],
  },
  { name: 'nopush', match: { groups: ['nopush'] }, models: [] },
  { name: 'default', match: { everyone: true }, models: ['claude-haiku-4-5'] },
];

const DISCOVERY = { CLAUDE_CODE_ENABLE_GATEWAY_MODEL_DISCOVERY: '1' };

/** The checksum exactly as the Claude Code client computes it from its cached copy (protocol-facts §0). */
function clientChecksum(settings: unknown): string {
  const sort = (v: unknown): unknown =>
    Array.isArray(v)
      ? v.map(sort)
      : v !== null && typeof v === 'object'
        ? Object.fromEntries(
            Object.keys(v)
              .sort()
              .map((k) => [k, sort((v as Record<string, unknown>)[k])]),
          )
        : v;
  return `sha256:${createHash('sha256')
    .update(JSON.stringify(sort(settings)))
    .digest('hex')}`;
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

function messageBody(model: unknown, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({
    ...(model === undefined ? {} : { model }),
    max_tokens: 16,
    messages: [{ role: 'user', content: 'hi' }],
    ...extra,
  });
}

async function postJson(url: string, token: string, body: string) {
  return send(url, {
    headers: { ...bearer(token), 'content-type': 'application/json', 'anthropic-version': '2023-06-01' },
    body,
  });
}

describe('policy over HTTP (users > groups > emailDomains > everyone)', () => {
  let h: Harness;
  const tokens = new Map<string, string>();

  /** Every branch of the rule: who, which policy, which settings and which models. */
  const CASES: Array<{
    why: string;
    user: TestUser;
    policy: string;
    settings: Record<string, unknown> | null;
    models: string[];
  }> = [
    {
      why: 'users tier by email, case-insensitive; beats the group and the domain, though listed after them',
      user: { subject: 'u-cto', email: 'CTO@Example.com', groups: ['platform-eng'] },
      policy: 'cto',
      // The policy's own env value wins over the gateway's pushed default.
      settings: { model: 'claude-opus-4-5', env: { CLAUDE_CODE_ENABLE_GATEWAY_MODEL_DISCOVERY: '0' } },
      models: [OPUS, SONNET, HAIKU],
    },
    {
      why: 'users tier by IdP subject (exact)',
      user: { subject: 'sub-ceo', email: 'ceo@elsewhere.test' },
      policy: 'cto',
      settings: { model: 'claude-opus-4-5', env: { CLAUDE_CODE_ENABLE_GATEWAY_MODEL_DISCOVERY: '0' } },
      models: [OPUS, SONNET, HAIKU],
    },
    {
      why: 'a subject differing only in case does not match the users tier',
      user: { subject: 'SUB-CEO', email: 'other@elsewhere.test' },
      policy: 'default',
      settings: null,
      models: [HAIKU],
    },
    {
      why: 'groups tier: the first policy in config order, whatever the order of the user’s groups',
      user: { subject: 'u-priya', email: 'priya@example.com', groups: ['contractors', 'platform-eng'] },
      policy: 'platform',
      settings: { env: { ...DISCOVERY, TEAM: 'platform' }, permissions: { deny: ['Bash(curl:*)'] } },
      models: [OPUS, SONNET],
    },
    {
      why: 'groups tier beats an email domain that does not match anyway',
      user: { subject: 'u-carl', email: 'carl@partner.test', groups: ['contractors'] },
      policy: 'contractors',
      settings: { env: DISCOVERY },
      models: [HAIKU],
    },
    {
      why: 'groups are exact and case-sensitive',
      user: { subject: 'u-pat', email: 'pat@elsewhere.test', groups: ['Platform-Eng'] },
      policy: 'default',
      settings: null,
      models: [HAIKU],
    },
    {
      why: 'email-domain tier',
      user: { subject: 'u-dana', email: 'dana@example.com' },
      policy: 'staff',
      settings: { env: DISCOVERY, permissions: { deny: ['WebFetch'] } },
      models: [SONNET, HAIKU],
    },
    {
      why: 'email domains compare case-insensitively',
      user: { subject: 'u-dana2', email: 'DANA@EXAMPLE.COM' },
      policy: 'staff',
      settings: { env: DISCOVERY, permissions: { deny: ['WebFetch'] } },
      models: [SONNET, HAIKU],
    },
    {
      why: 'a subdomain is not the domain: everyone tier',
      user: { subject: 'u-sam', email: 'sam@eu.example.com' },
      policy: 'default',
      settings: null,
      models: [HAIKU],
    },
    {
      why: 'a suffix is not the domain: everyone tier',
      user: { subject: 'u-bad', email: 'x@badexample.com' },
      policy: 'default',
      settings: null,
      models: [HAIKU],
    },
    {
      why: 'a policy with several criteria sits in the most specific tier that matched: groups',
      user: { subject: 'u-leo', email: 'leo@lab.test', groups: ['ml'] },
      policy: 'mixed',
      settings: { env: DISCOVERY, m: true },
      models: [SONNET],
    },
    {
      why: '…and for a user it matched only by domain, config order inside the domain tier decides',
      user: { subject: 'u-lia', email: 'lia@lab.test' },
      policy: 'labdomain',
      settings: { env: DISCOVERY, z: 1 },
      models: [HAIKU],
    },
    {
      why: 'a policy without managedSettings: 404 from /managed/settings; an empty allowlist grants nothing',
      user: { subject: 'u-np', email: 'np@example.com', groups: ['nopush'] },
      policy: 'nopush',
      settings: null,
      models: [],
    },
    {
      why: 'no email at all: only the users (by subject) and everyone tiers can match',
      user: { subject: 'u-noemail', email: null },
      policy: 'default',
      settings: null,
      models: [HAIKU],
    },
  ];

  beforeAll(async () => {
    h = await startHarness({
      models: MODELS,
      policies: POLICIES,
      environment: { modelDiscovery: true, otlp: false },
      staticTokens: [{ token: TOKEN, subject: 'dev-user', email: 'dev@example.com' }],
    });
    for (const c of CASES) tokens.set(c.user.subject, (await h.signIn(c.user)).token);
  });
  afterAll(async () => {
    await h?.close();
  });

  it.each(CASES)('$why → $policy', async (c) => {
    const token = tokens.get(c.user.subject) as string;

    const settings = await send(`${h.url}/managed/settings`, { headers: bearer(token) });
    expect(settings.headers['cache-control']).toBe('private, no-cache');
    if (c.settings === null) {
      expect(settings.status).toBe(404);
      expect(JSON.parse(settings.body).error.type).toBe('not_found_error');
      expect(JSON.parse(settings.body).error.message).toMatch(/no managed policy/i);
    } else {
      expect(settings.status).toBe(200);
      const body = JSON.parse(settings.body);
      expect(body).toEqual({
        uuid: policyUuid(c.policy),
        checksum: clientChecksum(c.settings),
        settings: c.settings,
      });
      expect(settings.headers.etag).toBe(`"${clientChecksum(c.settings)}"`);
    }

    const models = await send(`${h.url}/v1/models?limit=1000`, { headers: bearer(token) });
    expect(models.status).toBe(200);
    expect(JSON.parse(models.body).data.map((m: { id: string }) => m.id)).toEqual(c.models);

    // The same policy decides inference: every listed model is accepted, every other is refused naming the policy.
    for (const model of [OPUS, SONNET, HAIKU]) {
      const r = await postJson(`${h.url}/v1/messages/count_tokens`, token, messageBody(model));
      if (c.models.includes(model)) expect(r.status).toBe(200);
      else {
        expect(r.status).toBe(400);
        expect(JSON.parse(r.body).error.message).toContain(`is not allowed by policy '${c.policy}'`);
      }
    }
  });

  it('a development static token (no groups, no session) is matched like any other principal', async () => {
    const r = await send(`${h.url}/v1/models`, { headers: bearer(TOKEN) });
    expect(JSON.parse(r.body).data.map((m: { id: string }) => m.id)).toEqual([SONNET, HAIKU]);
    const denied = await postJson(`${h.url}/v1/messages`, TOKEN, messageBody('claude-opus-4-5'));
    expect(denied.status).toBe(400);
    expect(JSON.parse(denied.body).error.message).toContain("policy 'staff'");
    const settings = await send(`${h.url}/managed/settings`, { headers: { 'x-api-key': TOKEN } });
    expect(settings.status).toBe(200);
    expect(JSON.parse(settings.body).uuid).toBe(policyUuid('staff'));
  });

  describe('ETag and If-None-Match', () => {
    let token: string;
    let etag: string;
    let cached: unknown;
    beforeAll(async () => {
      token = tokens.get('u-priya') as string;
      const r = await send(`${h.url}/managed/settings`, { headers: bearer(token) });
      etag = r.headers.etag as string;
      cached = JSON.parse(r.body).settings;
    });

    it('the ETag is the checksum in quotes, computed like the client computes it', () => {
      expect(etag).toMatch(/^"sha256:[0-9a-f]{64}"$/);
      expect(etag).toBe(`"${clientChecksum(cached)}"`);
    });

    it.each([
      ['the client’s own value', () => `"${clientChecksum(cached)}"`, 304],
      ['a weak validator', () => `W/${etag}`, 304],
      ['a list containing it', () => `"sha256:${'0'.repeat(64)}", ${etag}`, 304],
      ['*', () => '*', 304],
      ['the bare checksum, unquoted', () => etag.slice(1, -1), 304],
      ['a stale checksum', () => `"sha256:${'0'.repeat(64)}"`, 200],
      ['a malformed header', () => `"unterminated`, 200],
    ])('If-None-Match with %s → %i', async (_what, header, status) => {
      const r = await send(`${h.url}/managed/settings`, {
        headers: { ...bearer(token), 'if-none-match': header() },
      });
      expect(r.status).toBe(status);
      expect(r.headers.etag).toBe(etag);
      expect(r.headers['cache-control']).toBe('private, no-cache');
      if (status === 304) expect(r.body).toBe('');
      else expect(JSON.parse(r.body).checksum).toBe(etag.slice(1, -1));
    });

    it('an If-None-Match for a user without managed settings still answers 404', async () => {
      const r = await send(`${h.url}/managed/settings`, {
        headers: { ...bearer(tokens.get('u-sam') as string), 'if-none-match': '*' },
      });
      expect(r.status).toBe(404);
    });

    it('the checksum differs per policy and is stable across requests', async () => {
      const again = await send(`${h.url}/managed/settings`, { headers: bearer(token) });
      expect(again.headers.etag).toBe(etag);
      const other = await send(`${h.url}/managed/settings`, {
        headers: bearer(tokens.get('u-dana') as string),
      });
      expect(other.headers.etag).not.toBe(etag);
    });
  });

  describe('GET /v1/models paging', () => {
    let cto: string;
    let dana: string;
    beforeAll(() => {
      cto = tokens.get('u-cto') as string;
      dana = tokens.get('u-dana') as string;
    });
    const page = async (query: string, token = cto) => {
      const r = await send(`${h.url}/v1/models${query}`, { headers: bearer(token) });
      return { status: r.status, body: JSON.parse(r.body) };
    };

    it('answers the Anthropic shape, canonical ids, display names, created_at', async () => {
      const { status, body } = await page('');
      expect(status).toBe(200);
      expect(body).toEqual({
        data: [
          { type: 'model', id: OPUS, display_name: 'Claude Opus 4.5', created_at: '2025-11-01T00:00:00Z' },
          {
            type: 'model',
            id: SONNET,
            display_name: 'Claude Sonnet 4.5',
            created_at: '2025-09-29T12:00:00Z',
          },
          { type: 'model', id: HAIKU, display_name: 'Claude Haiku 4.5', created_at: '2025-10-01T00:00:00Z' },
        ],
        has_more: false,
        first_id: OPUS,
        last_id: HAIKU,
      });
    });

    it.each([
      ['?limit=1', [OPUS], true],
      [`?limit=1&after_id=${OPUS}`, [SONNET], true],
      ['?limit=1&after_id=claude-opus-4-5', [SONNET], true],
      ['?after_id=sonnet', [HAIKU], false],
      [`?after_id=${HAIKU}`, [], false],
      [`?limit=1&before_id=${HAIKU}`, [SONNET], true],
      ['?before_id=claude-sonnet-4-5', [OPUS], false],
      [`?limit=2&before_id=${HAIKU}`, [OPUS, SONNET], false],
      ['?limit=1000', [OPUS, SONNET, HAIKU], false],
    ])('%s → %j, has_more %s', async (query, ids, hasMore) => {
      const { status, body } = await page(query);
      expect(status).toBe(200);
      expect(body.data.map((m: { id: string }) => m.id)).toEqual(ids);
      expect(body.has_more).toBe(hasMore);
      expect(body.first_id).toBe(ids[0] ?? null);
      expect(body.last_id).toBe(ids.at(-1) ?? null);
    });

    it.each([
      ['?limit=0', /limit/],
      ['?limit=1001', /limit/],
      ['?limit=abc', /limit/],
      ['?limit=', /limit/],
      ['?limit=1&limit=2', /limit/],
      [`?after_id=${OPUS}&before_id=${HAIKU}`, /after_id and before_id/],
      ['?after_id=gpt-4o', /after_id/],
    ])('%s → 400 invalid_request_error', async (query, message) => {
      const { status, body } = await page(query);
      expect(status).toBe(400);
      expect(body.error.type).toBe('invalid_request_error');
      expect(body.error.message).toMatch(message);
    });

    it('a cursor outside the caller’s own list is refused', async () => {
      const { status, body } = await page(`?after_id=${OPUS}`, dana);
      expect(status).toBe(400);
      expect(body.error.message).toMatch(/after_id/);
    });

    it('a user whose policy grants nothing gets an empty page', async () => {
      const { body } = await page('', tokens.get('u-np') as string);
      expect(body).toEqual({ data: [], has_more: false, first_id: null, last_id: null });
    });
  });

  describe('GET /v1/models/{model_id}', () => {
    it.each([
      ['a canonical id', SONNET, 'u-dana', 200, SONNET],
      ['an alias', 'sonnet', 'u-dana', 200, SONNET],
      ['a percent-encoded alias', 'claude%2Dhaiku%2D4%2D5', 'u-dana', 200, HAIKU],
      [
        'a model the policy does not allow',
        'claude-opus-4-5',
        'u-dana',
        404,
        /not allowed by policy 'staff'/,
      ],
      ['a model nobody offers', 'gpt-4o', 'u-dana', 404, /not offered by this gateway/],
      ['any model, for a policy granting none', HAIKU, 'u-np', 404, /not allowed by policy 'nopush'/],
    ])('%s → %i', async (_what, id, subject, status, expected) => {
      const r = await send(`${h.url}/v1/models/${id}`, { headers: bearer(tokens.get(subject) as string) });
      expect(r.status).toBe(status);
      const body = JSON.parse(r.body);
      if (status === 200) {
        expect(body.type).toBe('model');
        expect(body.id).toBe(expected);
      } else {
        expect(body.error.type).toBe('not_found_error');
        expect(body.error.message).toMatch(expected as RegExp);
      }
    });
  });

  describe('the allowlist on /v1/messages and count_tokens', () => {
    const dana = () => tokens.get('u-dana') as string;

    it.each(['/v1/messages', '/v1/messages/count_tokens'])(
      '%s: refusals name the rule; the upstream is never called',
      async (path) => {
        const cases: Array<[string, string, RegExp]> = [
          ['missing model', messageBody(undefined), /model/],
          ['model not a string', messageBody(42), /model/],
          ['empty model', messageBody(''), /model/],
          ['unknown model', messageBody('gpt-4o'), /^model 'gpt-4o' is not offered by this gateway$/],
          [
            'denied model',
            messageBody('claude-opus-4-5'),
            new RegExp(
              `^model 'claude-opus-4-5' is not allowed by policy 'staff' \\(allowed: ${SONNET}, ${HAIKU}\\)$`,
            ),
          ],
          [
            'two model members (parsers disagree on which one counts)',
            `{"model":"claude-opus-4-5","max_tokens":16,"messages":[],"model":"${HAIKU}"}`,
            /model must be given once/,
          ],
        ];
        const before = h.upstream.requests.length;
        for (const [what, body, message] of cases) {
          const r = await postJson(`${h.url}${path}`, dana(), body);
          expect(r.status, what).toBe(400);
          const parsed = JSON.parse(r.body);
          expect(parsed.type).toBe('error');
          expect(parsed.error.type, what).toBe('invalid_request_error');
          expect(parsed.error.message, what).toMatch(message);
          expect(parsed.request_id).toMatch(/^req_/);
        }
        const empty = await postJson(`${h.url}${path}`, tokens.get('u-np') as string, messageBody(HAIKU));
        expect(JSON.parse(empty.body).error.message).toMatch(
          /not allowed by policy 'nopush' \(allowed: none\)/,
        );
        expect(h.upstream.requests.length).toBe(before);
      },
    );

    it.each([
      ['/v1/messages', 'sonnet'],
      ['/v1/messages/count_tokens', 'claude-sonnet-4-5'],
    ])(
      '%s: an alias is rewritten to the canonical id; every other byte is forwarded as sent',
      async (path, alias) => {
        // Number formatting, escapes and unknown fields a re-serialisation would change.
        const raw = `{ "max_tokens" : 16.0, "messages":[{"role":"user","content":"caf\\u00e9 \\"model\\": x"}],\n  "model" :"${alias}", "metadata":{"model":"keep"},"big":12345678901234567890 }`;
        const r = await postJson(`${h.url}${path}`, dana(), raw);
        expect(r.status).toBe(200);
        const forwarded = h.upstream.requests.at(-1);
        expect(forwarded?.url.startsWith(path)).toBe(true);
        expect(forwarded?.body.toString('utf8')).toBe(raw.replace(`"${alias}"`, `"${SONNET}"`));
        // The gateway's record names the canonical model too.
        const requestId = r.headers['request-id'] as string;
        let rows: Array<{ model: string }> = [];
        for (let i = 0; i < 100 && rows.length === 0; i++) {
          rows = (
            await h.store.query<{ model: string }>(
              'SELECT model FROM inference_requests WHERE request_id = $1',
              [requestId],
            )
          ).rows;
          if (rows.length === 0) await new Promise((resolve) => setTimeout(resolve, 50));
        }
        expect(rows).toEqual([{ model: SONNET }]);
      },
    );

    it('an escaped member name is still the model member', async () => {
      const raw = `{"mod\\u0065l":"sonnet","max_tokens":16,"messages":[]}`;
      const r = await postJson(`${h.url}/v1/messages/count_tokens`, dana(), raw);
      expect(r.status).toBe(200);
      expect(h.upstream.requests.at(-1)?.body.toString('utf8')).toBe(
        `{"mod\\u0065l":"${SONNET}","max_tokens":16,"messages":[]}`,
      );
    });

    it('a canonical id is forwarded byte for byte, streaming included', async () => {
      const raw = messageBody(SONNET, { stream: true });
      const r = await postJson(`${h.url}/v1/messages`, dana(), raw);
      expect(r.status).toBe(200);
      expect(r.headers['content-type']).toMatch(/text\/event-stream/);
      expect(h.upstream.requests.at(-1)?.body.toString('utf8')).toBe(raw);
    });
  });
});

describe('policy over HTTP without an everyone policy and without pushed environment', () => {
  let h: Harness;
  let nobody: string;
  let carl: string;
  beforeAll(async () => {
    h = await startHarness({
      models: MODELS,
      policies: [
        { name: 'contractors', match: { groups: ['contractors'] }, managedSettings: {}, models: [HAIKU] },
        { name: 'staff', match: { emailDomains: ['example.com'] }, managedSettings: null, models: [SONNET] },
      ],
    });
    nobody = (await h.signIn({ subject: 'u-nobody', email: 'nobody@elsewhere.test' })).token;
    carl = (await h.signIn({ subject: 'u-carl', email: 'carl@partner.test', groups: ['contractors'] })).token;
  });
  afterAll(async () => {
    await h?.close();
  });

  it('an empty policy is 200 with settings {} — not the same as no policy', async () => {
    const r = await send(`${h.url}/managed/settings`, { headers: bearer(carl) });
    expect(r.status).toBe(200);
    const body = JSON.parse(r.body);
    expect(body.settings).toEqual({});
    expect(body.checksum).toBe(clientChecksum({}));
    expect(body.uuid).toBe(policyUuid('contractors'));
    const again = await send(`${h.url}/managed/settings`, {
      headers: { ...bearer(carl), 'if-none-match': r.headers.etag as string },
    });
    expect(again.status).toBe(304);
  });

  it('a user no policy matches: 404 no managed policy, no models, every model refused', async () => {
    const settings = await send(`${h.url}/managed/settings`, { headers: bearer(nobody) });
    expect(settings.status).toBe(404);
    expect(JSON.parse(settings.body).error).toEqual({
      type: 'not_found_error',
      message: 'No managed policy applies to you (no policy matches your account).',
    });
    const models = await send(`${h.url}/v1/models`, { headers: bearer(nobody) });
    expect(JSON.parse(models.body)).toEqual({ data: [], has_more: false, first_id: null, last_id: null });
    const one = await send(`${h.url}/v1/models/${HAIKU}`, { headers: bearer(nobody) });
    expect(one.status).toBe(404);
    const before = h.upstream.requests.length;
    const r = await postJson(`${h.url}/v1/messages`, nobody, messageBody(HAIKU));
    expect(r.status).toBe(400);
    expect(JSON.parse(r.body).error.message).toBe('no policy grants you any model');
    expect(h.upstream.requests.length).toBe(before);
  });

  it('managedSettings: null is "no managed policy" while its allowlist still applies', async () => {
    const { token } = await h.signIn({ subject: 'u-dana', email: 'dana@example.com' });
    const settings = await send(`${h.url}/managed/settings`, { headers: bearer(token) });
    expect(settings.status).toBe(404);
    expect(JSON.parse(settings.body).error.message).toContain("policy 'staff' pushes no managed settings");
    const models = await send(`${h.url}/v1/models`, { headers: bearer(token) });
    expect(JSON.parse(models.body).data.map((m: { id: string }) => m.id)).toEqual([SONNET]);
  });

  it('an unauthenticated request is 401 on every policy endpoint', async () => {
    for (const path of ['/managed/settings', '/v1/models', `/v1/models/${HAIKU}`]) {
      const r = await send(`${h.url}${path}`);
      expect(r.status).toBe(401);
      expect(JSON.parse(r.body).error.type).toBe('authentication_error');
    }
  });
});

describe('pushed telemetry environment', () => {
  it('points the OTLP exporter at the gateway, before the checksum, without overriding the policy', async () => {
    const h = await startHarness({
      models: MODELS,
      policies: [
        {
          name: 'all',
          match: { everyone: true },
          managedSettings: { env: { OTEL_METRICS_EXPORTER: 'none' } },
          models: ['*'],
        },
      ],
      environment: { baseUrl: 'https://gw.example.com/', modelDiscovery: false, otlp: true },
    });
    try {
      const { token } = await h.signIn({ subject: 'u1' });
      const r = await send(`${h.url}/managed/settings`, { headers: bearer(token) });
      const body = JSON.parse(r.body);
      expect(body.settings.env).toEqual({
        CLAUDE_CODE_ENABLE_TELEMETRY: '1',
        OTEL_EXPORTER_OTLP_ENDPOINT: 'https://gw.example.com',
        OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
        OTEL_METRICS_EXPORTER: 'none',
        OTEL_LOGS_EXPORTER: 'otlp',
      });
      expect(r.headers.etag).toBe(`"${clientChecksum(body.settings)}"`);
    } finally {
      await h.close();
    }
  });
});

describe('locating the top-level model member in the raw body', () => {
  const spans = (text: string) => {
    const raw = Buffer.from(text, 'utf8');
    return (
      findTopLevelMembers(raw, 'model')?.map((s) => raw.subarray(s.start, s.end).toString('utf8')) ?? null
    );
  };
  it.each([
    ['a plain body', '{"model":"a","max_tokens":1}', ['"a"']],
    ['whitespace everywhere', ' \n{ "model" :\t"a" , "x" : 1 }\r\n', ['"a"']],
    ['a UTF-8 byte order mark', '\uFEFF{"model":"a"}', ['"a"']],
    [
      '"model" inside nested objects, arrays and strings',
      '{"m":{"model":"n"},"a":[{"model":"x"}],"s":"\\"model\\":\\"y\\"","model":"a"}',
      ['"a"'],
    ],
    ['an escaped member name', '{"mod\\u0065l":"a"}', ['"a"']],
    ['two model members', '{"model":"a","model":"b"}', ['"a"', '"b"']],
    ['a non-string model', '{"model":null}', ['null']],
    ['no model', '{"x":[1,{"y":"}"}]}', []],
    ['an empty object', '{}', []],
    ['an array body', '[{"model":"a"}]', null],
    ['a truncated body', '{"model":"a"', null],
  ])('%s', (_what, text, expected) => {
    expect(spans(text)).toEqual(expected);
  });

  it('replaces exactly the value, as a JSON string', () => {
    const raw = Buffer.from('{"a":1.0,"model":"x","b":"é"}', 'utf8');
    const [span] = findTopLevelMembers(raw, 'model') ?? [];
    expect(replaceSpan(raw, span as MemberSpan, 'claude-"q"').toString('utf8')).toBe(
      '{"a":1.0,"model":"claude-\\"q\\"","b":"é"}',
    );
  });
});
