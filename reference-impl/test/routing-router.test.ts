/**
 * The router against in-process fake upstreams (issue 4): every retry trigger, no retry of a 400, retry-after and
 * the deadline, bounded attempts, breakers, hold-back then invisible failover, cut/stall after content → SSE
 * error, message_stop ends the stream, malformed events dropped, client abort propagates.
 */
import { describe, expect, it } from 'vitest';
import { GatewayError } from '../src/errors.ts';
import { createLogger } from '../src/log/logger.ts';
import {
  createRouter,
  type RouteFacts,
  type RouteRequest,
  type RouterOptions,
} from '../src/routing/route.ts';
import type { Route } from '../src/routing/targets.ts';
import {
  answerEvents,
  errorBody,
  eventNames,
  expectSleeps,
  type FakeUpstream,
  fakeClock,
  fakeUpstream,
  readText,
  type Step,
  sse,
  timeout,
  unreachable,
} from './routing-fakes.ts';

const streamRequest: RouteRequest = {
  path: '/v1/messages',
  search: '',
  rawHeaders: [],
  body: Buffer.from('{"model":"m","stream":true}'),
  awaitsWholeAnswer: false,
};
const jsonRequest: RouteRequest = {
  ...streamRequest,
  body: Buffer.from('{"model":"m"}'),
  awaitsWholeAnswer: true,
};

function setup(upstreams: FakeUpstream[], options: Partial<RouterOptions> = {}, frozen = false) {
  const lines: Array<Record<string, unknown>> = [];
  const logger = createLogger({ level: 'debug', write: (l) => lines.push(JSON.parse(l)) });
  const clock = fakeClock(frozen);
  const routes: Route[] = [
    { model: 'm', targets: upstreams.map((u) => ({ upstream: u, model: `${u.name}-model` })) },
  ];
  const router = createRouter(routes, {
    logger,
    clock,
    random: () => 0,
    firstTokenMs: 300,
    idleMs: 300,
    backoffBaseMs: 100,
    ...options,
  });
  return { router, clock, lines };
}

async function caught(p: Promise<unknown>): Promise<GatewayError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof GatewayError) return err;
    throw err;
  }
  throw new Error('expected a GatewayError');
}

const ok = (id = 'msg_b'): Step => ({ sse: answerEvents(id, 'hello') });

describe('retry and failover before the first byte (ROUTING-1, ROUTING-2)', () => {
  it.each<[string, Step]>([
    ['connection refused', { throw: unreachable() }],
    ['first-byte timeout', { throw: timeout() }],
    ['408', { status: 408, json: errorBody('timeout_error', 'x') }],
    ['429', { status: 429, json: errorBody('rate_limit_error', 'x') }],
    ['500', { status: 500, json: errorBody('api_error', 'x') }],
    ['502', { status: 502, json: 'bad gateway' }],
    ['503', { status: 503, json: errorBody('api_error', 'x') }],
    ['504', { status: 504, json: errorBody('timeout_error', 'x') }],
    ['529', { status: 529, json: errorBody('overloaded_error', 'Overloaded') }],
    ['401 (bad upstream key)', { status: 401, json: errorBody('authentication_error', 'invalid x-api-key') }],
    ['403', { status: 403, json: errorBody('permission_error', 'arn:aws:iam::123456789012:role/x') }],
    [
      'SSE error before content',
      {
        sse: [
          answerEvents('msg_a', 'x')[0] as [string, unknown],
          ['error', errorBody('overloaded_error', 'Overloaded')],
        ],
      },
    ],
    ['stream ends before content', { sse: answerEvents('msg_a', 'x').slice(0, 3) }],
    ['stream reset before content', { sse: answerEvents('msg_a', 'x'), cutAfter: 2 }],
    ['silence before content (first-token limit)', { sse: answerEvents('msg_a', 'x'), stallAfter: 3 }],
    ['no headers at all (hang)', { hang: true }],
  ])('%s on the first target → the second answers, invisibly', async (_what, step) => {
    const a = fakeUpstream('a', [step]);
    const b = fakeUpstream('b', [ok('msg_b')]);
    const { router } = setup([a, b]);
    const facts: RouteFacts = { attempts: [], failed: false };
    const routed = await router.send('m', streamRequest, { signal: new AbortController().signal, facts });
    const text = await readText(routed.response.body);
    expect(text).toContain('msg_b');
    expect(text).not.toContain('msg_a');
    expect(eventNames(text)).toEqual(answerEvents('msg_b', 'hello').map((e) => e[0]));
    expect([routed.upstream, routed.model]).toEqual(['b', 'b-model']);
    expect(b.calls[0]?.upstreamModel).toBe('b-model');
    expect(facts).toMatchObject({
      upstream: 'b',
      model: 'b-model',
      inputTokens: 10,
      outputTokens: 5,
      failed: false,
    });
    expect(facts.attempts.map((x) => x.outcome)[1]).toBe('ok');
    expect(a.calls[0]?.signal.aborted).toBe(true); // the failed attempt's upstream request was abandoned
  });

  it('a single target is retried after a backoff with jitter, then answers', async () => {
    const a = fakeUpstream('a', [{ status: 529, json: errorBody('overloaded_error', 'x') }, ok('msg_a2')]);
    const { router, clock } = setup([a], { random: () => 0.5 });
    const routed = await router.send('m', streamRequest, { signal: new AbortController().signal });
    expect(await readText(routed.response.body)).toContain('msg_a2');
    expect(a.calls).toHaveLength(2);
    expectSleeps(clock.sleeps, [100 * (1 - 0.25 * 0.5)]);
  });

  it('a non-streaming answer cut short is retried (nothing was sent yet)', async () => {
    const a = fakeUpstream('a', [
      { sse: ['{"type":"mess'], cutAfter: 1, headers: { 'content-type': 'application/json' } },
    ]);
    const b = fakeUpstream('b', [
      { status: 200, json: { type: 'message', id: 'msg_b', usage: { input_tokens: 3, output_tokens: 4 } } },
    ]);
    const { router } = setup([a, b]);
    const routed = await router.send('m', jsonRequest, { signal: new AbortController().signal });
    expect(JSON.parse(await readText(routed.response.body))).toMatchObject({ id: 'msg_b' });
    expect(routed.facts).toMatchObject({ upstream: 'b', inputTokens: 3, outputTokens: 4 });
  });
});

describe('model ids per target (ROUTING-15)', () => {
  it('an anthropic-kind target with its own model id gets it in the body; others get upstreamModel only', async () => {
    const a = fakeUpstream('a', [{ status: 500, json: errorBody('api_error', 'x') }]);
    const b = fakeUpstream('b', [ok()]);
    const bedrockish = { ...b, kind: 'bedrock' as const, send: b.send };
    const router = createRouter(
      [
        {
          model: 'm',
          targets: [
            { upstream: a, model: 'claude-a-1' },
            { upstream: bedrockish, model: 'anthropic.b-v1:0' },
          ],
        },
      ],
      { logger: createLogger({ level: 'error', write: () => {} }), clock: fakeClock(true), random: () => 0 },
    );
    const req = { ...streamRequest, body: Buffer.from('{"model" : "m","stream":true, "x": 1.50}') };
    const routed = await router.send('m', req, { signal: new AbortController().signal });
    await readText(routed.response.body);
    expect(a.calls[0]?.requestBody).toBe('{"model" : "claude-a-1","stream":true, "x": 1.50}');
    expect(b.calls[0]?.requestBody).toBe('{"model" : "m","stream":true, "x": 1.50}');
    expect(b.calls[0]?.upstreamModel).toBe('anthropic.b-v1:0');
    expect([routed.upstream, routed.model]).toEqual(['b', 'anthropic.b-v1:0']);
  });
});

describe('non-retryable 4xx (ROUTING-3, ROUTING-11)', () => {
  it.each([
    [400, 'invalid_request_error', 'prompt is too long: 250000 tokens > 200000 maximum'],
    [404, 'not_found_error', 'model arn:aws:bedrock:us-east-1:123456789012:x not found'],
    [413, 'request_too_large', 'body exceeds 32 MB for project 4711'],
    [422, 'invalid_request_error', 'content refused'],
  ])('%i %s reaches the client once, with a generic message', async (status, type, message) => {
    const a = fakeUpstream('a', [{ status, json: errorBody(type, message) }]);
    const b = fakeUpstream('b', [ok()]);
    const { router, lines } = setup([a, b]);
    const err = await caught(router.send('m', streamRequest, { signal: new AbortController().signal }));
    expect([err.status, err.type]).toEqual([status, type]);
    expect(err.message).not.toContain(message);
    expect(err.message).not.toMatch(/arn:|123456789012/);
    expect(a.calls).toHaveLength(1);
    expect(b.calls).toHaveLength(0);
    // The operator's log has the detail.
    expect(lines.some((l) => l.upstream_message && String(l.upstream_message).includes(message))).toBe(true);
  });
});

describe('upstream credentials (ROUTING-10)', () => {
  it.each([401, 403])('an upstream %i with nothing left is 502 api_error, never 401', async (status) => {
    const a = fakeUpstream('a', [
      { status, json: errorBody('authentication_error', 'invalid x-api-key sk-ant-123') },
    ]);
    const { router } = setup([a]);
    const err = await caught(router.send('m', streamRequest, { signal: new AbortController().signal }));
    expect([err.status, err.type]).toEqual([502, 'api_error']);
    expect(err.headers['x-should-retry']).toBe('false'); // the client stops instead of retrying for minutes
    expect(err.message).not.toContain('sk-ant');
    expect(a.calls).toHaveLength(1); // a credential problem is not retried on the same target
  });

  it('an auth failure does not hide a rate limit elsewhere', async () => {
    const a = fakeUpstream('a', [
      { status: 429, headers: { 'retry-after': '30' }, json: errorBody('rate_limit_error', 'x') },
    ]);
    const b = fakeUpstream('b', [{ status: 401, json: errorBody('authentication_error', 'x') }]);
    const { router } = setup([a, b], { deadlineMs: 5000 });
    const err = await caught(router.send('m', streamRequest, { signal: new AbortController().signal }));
    expect([err.status, err.type, err.headers['retry-after']]).toEqual([429, 'rate_limit_error', '30']);
  });
});

describe('count_tokens without support (501 not_supported)', () => {
  const notSupported: Step = {
    status: 501,
    json: errorBody('not_supported', 'CountTokens is not available in eu-west-3'),
  };

  it('fails over to a target that counts', async () => {
    const a = fakeUpstream('a', [notSupported]);
    const b = fakeUpstream('b', [{ status: 200, json: { input_tokens: 42 } }]);
    const { router } = setup([a, b]);
    const routed = await router.send(
      'm',
      { ...jsonRequest, awaitsWholeAnswer: false },
      { signal: new AbortController().signal },
    );
    expect(JSON.parse(await readText(routed.response.body))).toEqual({ input_tokens: 42 });
    expect(router.health()[0]).toMatchObject({ consecutiveFailures: 0 }); // not a failure of the target
  });

  it('with nothing left, the client gets 501 not_supported once (Claude Code then probes with max_tokens: 1)', async () => {
    const a = fakeUpstream('a', [], notSupported);
    const { router } = setup([a]);
    const err = await caught(router.send('m', jsonRequest, { signal: new AbortController().signal }));
    expect([err.status, err.type]).toEqual([501, 'not_supported']);
    expect(err.message).not.toContain('eu-west-3');
    expect(a.calls).toHaveLength(1);
  });
});

describe('retry-after, backoff, deadline, bounds (ROUTING-4, ROUTING-5)', () => {
  it.each([
    [{ 'retry-after': '2' }, 2000],
    [{ 'retry-after-ms': '1500' }, 1500],
    [{ 'retry-after-ms': '10' }, 100], // never shorter than the backoff
  ])('honours %j before retrying the same target', async (headers, waited) => {
    const a = fakeUpstream('a', [
      { status: 429, headers, json: errorBody('rate_limit_error', 'x') },
      ok('msg_a'),
    ]);
    const { router, clock } = setup([a]);
    const routed = await router.send('m', streamRequest, { signal: new AbortController().signal });
    expect(await readText(routed.response.body)).toContain('msg_a');
    expectSleeps(clock.sleeps, [waited]);
  });

  it('a retry-after past the deadline is not waited for: the client gets the 429 with retry-after', async () => {
    const a = fakeUpstream('a', [
      { status: 429, headers: { 'retry-after': '120' }, json: errorBody('rate_limit_error', 'x') },
    ]);
    const { router, clock } = setup([a], { deadlineMs: 10_000 });
    const err = await caught(router.send('m', streamRequest, { signal: new AbortController().signal }));
    expect([err.status, err.type, err.headers['retry-after']]).toEqual([429, 'rate_limit_error', '120']);
    expect(a.calls).toHaveLength(1);
    expect(clock.sleeps).toEqual([]);
  });

  it('fails over at once, and retries spaced by doubling backoff within the attempt bounds', async () => {
    const fail: Step = { status: 500, json: errorBody('api_error', 'x') };
    const a = fakeUpstream('a', [], fail);
    const b = fakeUpstream('b', [], fail);
    const { router, clock } = setup([a, b], { maxAttemptsPerTarget: 3, maxAttemptsPerRequest: 5 }, true);
    const err = await caught(router.send('m', streamRequest, { signal: new AbortController().signal }));
    expect([err.status, err.type]).toEqual([500, 'api_error']);
    expect(a.calls.length + b.calls.length).toBe(5);
    expect([a.calls.length, b.calls.length]).toEqual([3, 2]);
    // a fails → b at once; both due again after 100 ms → a, b at once; a's second backoff is 200 ms → a.
    expect(clock.sleeps).toEqual([100, 200]);
  });

  it('answers by the deadline when every attempt hangs', async () => {
    const a = fakeUpstream('a', [], { hang: true });
    const { router } = setup([a], {
      firstTokenMs: 10_000,
      maxAttemptsPerTarget: 10,
      maxAttemptsPerRequest: 10,
    });
    const started = Date.now();
    const err = await caught(
      router.send('m', streamRequest, { signal: new AbortController().signal, deadline: Date.now() + 200 }),
    );
    expect(Date.now() - started).toBeLessThan(1000);
    expect([err.status, err.type]).toEqual([504, 'api_error']);
  });
});

describe('circuit breaker (ROUTING-12, ROUTING-13)', () => {
  it('opens → traffic goes to the next target → half-open probe → closed', async () => {
    const a = fakeUpstream('a', [], { throw: unreachable() });
    const b = fakeUpstream('b', [], ok('msg_b'));
    const { router, clock } = setup([a, b], { breaker: { failureThreshold: 2, coolDownMs: 5000 } });
    const signal = new AbortController().signal;
    for (let i = 0; i < 2; i++)
      await readText((await router.send('m', streamRequest, { signal })).response.body);
    expect(a.calls).toHaveLength(2);
    expect(router.health().find((h) => h.target === 'a/a-model')).toMatchObject({
      state: 'open',
      consecutiveFailures: 2,
    });

    // Open: a is skipped.
    const skipped = await router.send('m', streamRequest, { signal });
    await readText(skipped.response.body);
    expect(a.calls).toHaveLength(2);
    expect(skipped.upstream).toBe('b');

    // After the cool-down one probe goes to a; it has recovered.
    clock.advance(5000);
    expect(router.health()[0]?.state).toBe('half_open');
    a.steps.push(ok('msg_a'));
    const probe = await router.send('m', streamRequest, { signal });
    expect(await readText(probe.response.body)).toContain('msg_a');
    expect(router.health().find((h) => h.target === 'a/a-model')).toMatchObject({
      state: 'closed',
      consecutiveFailures: 0,
      openedAt: null,
    });
  });

  it('every target open → 529 overloaded_error with retry-after until the next probe', async () => {
    const a = fakeUpstream('a', [], { status: 503, json: errorBody('api_error', 'x') });
    const { router } = setup([a], {
      breaker: { failureThreshold: 1, coolDownMs: 7000 },
      maxAttemptsPerTarget: 1,
    });
    await caught(router.send('m', streamRequest, { signal: new AbortController().signal }));
    const err = await caught(router.send('m', streamRequest, { signal: new AbortController().signal }));
    expect([err.status, err.type, err.headers['retry-after']]).toEqual([529, 'overloaded_error', '7']);
    expect(a.calls).toHaveLength(1);
  });
});

describe('streams after release (ROUTING-6 … ROUTING-9)', () => {
  it('holds message_start and ping back until content, then relays everything in order', async () => {
    const a = fakeUpstream('a', [{ sse: answerEvents('msg_a', 'hi'), gapMs: 20 }]);
    const { router } = setup([a]);
    const routed = await router.send('m', streamRequest, { signal: new AbortController().signal });
    // The router answered only once content arrived: the opening events come together with the first content.
    const first = routed.response.body.read() as Buffer | null;
    expect(eventNames(String(first ?? ''))).toEqual([
      'message_start',
      'content_block_start',
      'ping',
      'content_block_delta',
    ]);
    const rest = await readText(routed.response.body);
    expect(eventNames(String(first) + rest)).toEqual(answerEvents('x', 'y').map((e) => e[0]));
  });

  it.each<[string, Partial<Step & { sse: unknown }>, string]>([
    ['cut', { cutAfter: 4 }, 'The upstream stream was interrupted.'],
    ['stall past the idle limit', { stallAfter: 4 }, 'The upstream stream stalled.'],
    [
      'end without message_stop',
      { sse: answerEvents('msg_a', 'x').slice(0, 5) },
      'The upstream stream ended before message_stop.',
    ],
  ])(
    '%s after content → an SSE error event, never a clean end; recorded failed',
    async (_what, extra, message) => {
      const a = fakeUpstream('a', [{ sse: answerEvents('msg_a', 'x'), ...extra } as Step]);
      const b = fakeUpstream('b', [ok()]);
      const { router } = setup([a, b]);
      const routed = await router.send('m', streamRequest, {
        signal: new AbortController().signal,
        requestId: 'req_1',
      });
      const text = await readText(routed.response.body);
      const names = eventNames(text);
      expect(names.at(-1)).toBe('error');
      expect(names).not.toContain('message_stop');
      expect(text).toContain(
        JSON.stringify({ type: 'error', error: { type: 'api_error', message }, request_id: 'req_1' }),
      );
      expect(b.calls).toHaveLength(0); // content reached the client: no retry
      const facts = await routed.done;
      expect(facts).toMatchObject({ failed: true, errorType: 'api_error', upstream: 'a' });
    },
  );

  it('message_stop ends the client stream even if the upstream keeps the connection open', async () => {
    const a = fakeUpstream('a', [{ sse: answerEvents('msg_a', 'x'), keepOpen: true }]);
    const { router } = setup([a], { idleMs: 60_000, stopGraceMs: 100 });
    const routed = await router.send('m', streamRequest, { signal: new AbortController().signal });
    const text = await readText(routed.response.body, 1000);
    expect(eventNames(text).at(-1)).toBe('message_stop');
    expect((await routed.done).failed).toBe(false);
    // The upstream gets a short grace to end on its own (its connection stays reusable), then it is cut.
    expect(a.calls[0]?.body?.destroyed).toBe(false);
    await new Promise((r) => setTimeout(r, 200));
    expect(a.calls[0]?.body?.destroyed).toBe(true);
  });

  it('events split across chunks at any byte arrive whole and unchanged (CRLF framing too)', async () => {
    const transcript = answerEvents('msg_a', 'héllo')
      .map((e) => sse(e[0], e[1]))
      .join('')
      .replaceAll('\n', '\r\n');
    const pieces = transcript.match(/[\s\S]{1,7}/g) ?? [];
    const a = fakeUpstream('a', [{ sse: pieces }]);
    const { router } = setup([a]);
    const routed = await router.send('m', streamRequest, { signal: new AbortController().signal });
    expect(await readText(routed.response.body)).toBe(transcript);
  });

  it('drops a malformed event and logs it; everything else arrives', async () => {
    const events = answerEvents('msg_a', 'x').map((e) => sse(e[0], e[1]));
    events.splice(4, 0, 'event: content_block_delta\ndata: {"type":"content_block_delta","ind\n\n');
    const a = fakeUpstream('a', [{ sse: events }]);
    const { router, lines } = setup([a]);
    const routed = await router.send('m', streamRequest, { signal: new AbortController().signal });
    const text = await readText(routed.response.body);
    expect(text).toBe(
      answerEvents('msg_a', 'x')
        .map((e) => sse(e[0], e[1]))
        .join(''),
    );
    expect(lines.some((l) => l.msg === 'dropped a malformed upstream SSE event')).toBe(true);
  });

  it('an upstream error event after content is relayed as it is and the request recorded failed', async () => {
    const events: Array<[string, unknown]> = [
      ...answerEvents('msg_a', 'x').slice(0, 4),
      ['error', errorBody('overloaded_error', 'Overloaded')],
    ];
    const a = fakeUpstream('a', [{ sse: events }]);
    const { router } = setup([a]);
    const routed = await router.send('m', streamRequest, { signal: new AbortController().signal });
    const text = await readText(routed.response.body);
    expect(eventNames(text)).toEqual([
      'message_start',
      'content_block_start',
      'ping',
      'content_block_delta',
      'error',
    ]);
    expect(await routed.done).toMatchObject({ failed: true, errorType: 'overloaded_error' });
  });
});

describe('client disconnect (ROUTING-14)', () => {
  it('during hold-back: send rejects with the abort, the upstream request is aborted', async () => {
    const a = fakeUpstream('a', [{ sse: answerEvents('msg_a', 'x'), stallAfter: 1 }]);
    const { router } = setup([a], { firstTokenMs: 10_000 });
    const client = new AbortController();
    const facts: RouteFacts = { attempts: [], failed: false };
    const p = router.send('m', streamRequest, { signal: client.signal, facts });
    setTimeout(() => client.abort(new Error('client gone')), 50);
    await expect(p).rejects.toThrow('client gone');
    expect(a.calls[0]?.signal.aborted).toBe(true);
    expect(a.calls[0]?.body?.destroyed).toBe(true);
    expect(facts.inputTokens).toBe(10); // the usage seen so far is kept
    expect(router.health()[0]).toMatchObject({ state: 'closed', consecutiveFailures: 0 });
  });

  it('while streaming: the upstream is aborted at once and the client stream ends', async () => {
    const a = fakeUpstream('a', [{ sse: answerEvents('msg_a', 'x'), stallAfter: 4 }]);
    const { router } = setup([a], { idleMs: 60_000 });
    const client = new AbortController();
    const routed = await router.send('m', streamRequest, { signal: client.signal });
    const reading = readText(routed.response.body, 2000);
    setTimeout(() => client.abort(new Error('client gone')), 50);
    const text = await reading;
    expect(eventNames(text)).toEqual(['message_start', 'content_block_start', 'ping', 'content_block_delta']);
    expect(a.calls[0]?.body?.destroyed).toBe(true);
    expect((await routed.done).inputTokens).toBe(10);
  });

  it('when the consumer destroys the stream (relay saw the socket close), the upstream is aborted', async () => {
    const a = fakeUpstream('a', [{ sse: answerEvents('msg_a', 'x'), stallAfter: 4 }]);
    const { router } = setup([a], { idleMs: 60_000 });
    const routed = await router.send('m', streamRequest, { signal: new AbortController().signal });
    routed.response.body.destroy();
    await routed.done;
    expect(a.calls[0]?.signal.aborted).toBe(true);
  });
});
