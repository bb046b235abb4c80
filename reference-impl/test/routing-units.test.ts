/** Classification of upstream failures, retry-after parsing, the circuit breaker and target order (issue 4). */
import { describe, expect, it } from 'vitest';
import { GatewayError } from '../src/errors.ts';
import { CircuitBreaker } from '../src/routing/breaker.ts';
import {
  classifyStatus,
  classifyStreamError,
  classifyThrown,
  parseRetryAfter,
} from '../src/routing/classify.ts';
import { splitEvents } from '../src/routing/events.ts';
import {
  findRoute,
  orderTargets,
  type RouteTarget,
  routeProblems,
  routesFromConfig,
} from '../src/routing/targets.ts';
import { fakeUpstream } from './routing-fakes.ts';

describe('classifyStatus (ROUTING-2, ROUTING-3, ROUTING-10)', () => {
  it.each([
    // status, upstream type, disposition, client status, client type
    [408, undefined, 'retry', 504, 'timeout_error'],
    [429, 'rate_limit_error', 'retry', 429, 'rate_limit_error'],
    [500, 'api_error', 'retry', 500, 'api_error'],
    [502, undefined, 'retry', 502, 'api_error'],
    [503, 'api_error', 'retry', 503, 'api_error'],
    [504, 'timeout_error', 'retry', 504, 'timeout_error'],
    [529, 'overloaded_error', 'retry', 529, 'overloaded_error'],
    [401, 'authentication_error', 'failover', 502, 'api_error'],
    [403, 'permission_error', 'failover', 502, 'api_error'],
    [501, 'not_supported', 'failover', 501, 'not_supported'],
    [400, 'invalid_request_error', 'final', 400, 'invalid_request_error'],
    [404, 'not_found_error', 'final', 404, 'not_found_error'],
    [413, 'request_too_large', 'final', 413, 'request_too_large'],
    [422, undefined, 'final', 422, 'invalid_request_error'],
    [400, 'authentication_error', 'final', 400, 'invalid_request_error'],
    [302, undefined, 'retry', 502, 'api_error'],
  ] as const)('%i %s → %s (client %i %s)', (status, type, disposition, clientStatus, clientType) => {
    const c = classifyStatus(status, type);
    expect([c.disposition, c.status, c.type]).toEqual([disposition, clientStatus, clientType]);
  });

  it('x-should-retry: false and billing errors rule out the target but not the others', () => {
    expect(classifyStatus(429, 'rate_limit_error', { 'x-should-retry': 'false' }).disposition).toBe(
      'failover',
    );
    expect(classifyStatus(429, 'billing_error').disposition).toBe('failover');
  });

  it('a client 4xx does not count against the breaker; failures do', () => {
    expect(classifyStatus(400, 'invalid_request_error').breakerFailure).toBe(false);
    expect(classifyStatus(529, 'overloaded_error').breakerFailure).toBe(true);
    expect(classifyStatus(401, undefined).breakerFailure).toBe(true);
  });
});

describe('classifyThrown and stream errors', () => {
  it.each([
    [new GatewayError('ERR_UPSTREAM_UNREACHABLE', 'x'), 'retry', 502],
    [new GatewayError('ERR_UPSTREAM_TIMEOUT', 'x'), 'retry', 504],
    [new GatewayError('ERR_UPSTREAM_AUTH', 'x'), 'failover', 502],
    [new GatewayError('ERR_UPSTREAM_STATUS', 'x', { status: 529, type: 'overloaded_error' }), 'retry', 529],
    [new GatewayError('ERR_INVALID_REQUEST', 'x'), 'final', 400],
    [Object.assign(new Error('reset'), { code: 'ECONNRESET' }), 'retry', 502],
  ])('%s → %s', (err, disposition, status) => {
    const c = classifyThrown(err);
    expect([c.disposition, c.status]).toEqual([disposition, status]);
    expect(c.type).not.toBe('authentication_error');
  });

  it.each([
    ['overloaded_error', 'retry'],
    ['api_error', 'retry'],
    ['rate_limit_error', 'retry'],
    ['invalid_request_error', 'final'],
    [undefined, 'retry'],
  ])('SSE error %s before content → %s', (type, disposition) => {
    expect(classifyStreamError(type).disposition).toBe(disposition);
  });
});

describe('parseRetryAfter (ROUTING-4)', () => {
  const now = Date.parse('2026-12-03T12:00:00Z');
  it.each([
    [{ 'retry-after': '2' }, 2000],
    [{ 'retry-after': '0.5' }, 500],
    [{ 'retry-after-ms': '1500' }, 1500],
    [{ 'retry-after-ms': '250', 'retry-after': '9' }, 250],
    [{ 'retry-after': 'Thu, 03 Dec 2026 12:00:03 GMT' }, 3000],
    [{ 'retry-after': 'Thu, 03 Dec 2026 11:00:00 GMT' }, 0],
    [{ 'retry-after': 'soon' }, undefined],
    [{ 'retry-after-ms': 'x', 'retry-after': '1' }, 1000],
    [{}, undefined],
  ])('%j → %s', (headers, ms) => {
    expect(parseRetryAfter(headers, now)).toBe(ms);
  });
});

describe('CircuitBreaker (ROUTING-12, ROUTING-13)', () => {
  const clock = () => {
    let t = Date.parse('2026-12-03T12:00:00Z');
    return { now: () => t, advance: (ms: number) => (t += ms) };
  };

  it('opens after consecutive failures, probes once half-open, closes on success', () => {
    const c = clock();
    const b = new CircuitBreaker('a/m', { failureThreshold: 3, coolDownMs: 1000 }, c.now);
    for (let i = 0; i < 2; i++) {
      expect(b.tryAcquire()).toBe(true);
      b.failure();
    }
    expect(b.snapshot().state).toBe('closed');
    b.tryAcquire();
    b.failure();
    expect(b.snapshot()).toMatchObject({
      target: 'a/m',
      state: 'open',
      consecutiveFailures: 3,
      errorRate: 1,
      openedAt: '2026-12-03T12:00:00.000Z',
      nextProbeAt: '2026-12-03T12:00:01.000Z',
    });
    expect(b.tryAcquire()).toBe(false);
    c.advance(1000);
    expect(b.snapshot().state).toBe('half_open');
    expect(b.tryAcquire()).toBe(true); // the probe
    expect(b.tryAcquire()).toBe(false); // only one
    b.success();
    expect(b.snapshot()).toMatchObject({
      state: 'closed',
      consecutiveFailures: 0,
      openedAt: null,
      nextProbeAt: null,
    });
    expect(b.tryAcquire()).toBe(true);
  });

  it('a failed probe opens it for another cool-down; a released probe frees the slot', () => {
    const c = clock();
    const b = new CircuitBreaker('a/m', { failureThreshold: 1, coolDownMs: 500 }, c.now);
    b.failure();
    c.advance(500);
    expect(b.tryAcquire()).toBe(true);
    b.release();
    expect(b.tryAcquire()).toBe(true);
    b.failure();
    expect(b.snapshot().state).toBe('open');
    expect(b.tryAcquire()).toBe(false);
    c.advance(499);
    expect(b.tryAcquire()).toBe(false);
    c.advance(1);
    expect(b.tryAcquire()).toBe(true);
  });

  it('opens on an error rate over the window, not on old outcomes', () => {
    const c = clock();
    const b = new CircuitBreaker(
      'a/m',
      { failureThreshold: 100, errorRateThreshold: 0.5, minRequests: 4, windowMs: 10_000 },
      c.now,
    );
    b.success();
    b.failure();
    b.success();
    expect(b.snapshot().state).toBe('closed');
    b.failure(); // 2 of 4
    expect(b.snapshot().state).toBe('open');

    const d = new CircuitBreaker(
      'b/m',
      { failureThreshold: 100, errorRateThreshold: 0.5, minRequests: 4, windowMs: 10_000 },
      c.now,
    );
    d.failure();
    d.failure();
    c.advance(11_000); // those two fall out of the window
    d.success();
    d.success();
    d.success();
    d.failure();
    expect(d.snapshot()).toMatchObject({ state: 'closed', requests: 4, errorRate: 0.25 });
  });

  it('a busy target is judged on its last 1024 outcomes', () => {
    const c = clock();
    const b = new CircuitBreaker(
      'a/m',
      { failureThreshold: 10_000, errorRateThreshold: 0.9, minRequests: 10, windowMs: 60_000 },
      c.now,
    );
    for (let i = 0; i < 1500; i++) b.success();
    expect(b.snapshot()).toMatchObject({ state: 'closed', requests: 1024, errorRate: 0 });
    // Each failure pushes out the oldest success: 921 of 1024 is under 0.9, 922 is over.
    for (let i = 0; i < 921; i++) b.failure();
    expect(b.snapshot()).toMatchObject({ state: 'closed', requests: 1024, errorRate: 921 / 1024 });
    b.failure();
    expect(b.snapshot().state).toBe('open');
  });
});

describe('targets', () => {
  const a = fakeUpstream('a', []);
  const b = fakeUpstream('b', []);
  const c = fakeUpstream('c', []);

  it('keeps the listed order without weights', () => {
    const ts: RouteTarget[] = [{ upstream: a }, { upstream: b }, { upstream: c }];
    expect(orderTargets(ts, () => 0.99).map((t) => t.upstream.name)).toEqual(['a', 'b', 'c']);
  });

  it.each([
    [0.0, ['a', 'b', 'c']],
    [0.74, ['a', 'b', 'c']],
    [0.76, ['b', 'a', 'c']],
  ])('spreads the weighted first tier by weight (random %s)', (r, order) => {
    const ts: RouteTarget[] = [{ upstream: a, weight: 3 }, { upstream: b, weight: 1 }, { upstream: c }];
    expect(orderTargets(ts, () => r).map((t) => t.upstream.name)).toEqual(order);
  });

  it('finds exact routes before the * route; reports bad tables', () => {
    const routes = [
      { model: '*', targets: [{ upstream: a }] },
      { model: 'claude-x', targets: [{ upstream: b, model: 'x@1' }] },
    ];
    expect(findRoute(routes, 'claude-x')?.targets[0]?.upstream.name).toBe('b');
    expect(findRoute(routes, 'other')?.targets[0]?.upstream.name).toBe('a');
    expect(
      routeProblems([
        { model: 'm', targets: [] },
        { model: 'm', targets: [{ upstream: a, weight: 0 }] },
      ]),
    ).toEqual([
      "route for model 'm' has no targets",
      "route for model 'm' is defined twice",
      "route for model 'm' target 0: weight must be a positive number",
    ]);
  });
});

describe('splitEvents', () => {
  it('cuts whole events with any framing and keeps the unfinished tail', () => {
    const buf = Buffer.from('event: a\ndata: {}\n\nevent: b\r\ndata: {"x":1}\r\n\r\nevent: c\ndata: {"y"');
    const { events, rest } = splitEvents(buf);
    expect(events.map((e) => [e.name, e.malformed, e.data])).toEqual([
      ['a', false, {}],
      ['b', false, { x: 1 }],
    ]);
    expect(rest.toString()).toBe('event: c\ndata: {"y"');
    expect(splitEvents(Buffer.from('event: d\ndata: {bad\n\n')).events[0]?.malformed).toBe(true);
    expect(splitEvents(Buffer.from(': keep-alive\n\n')).events[0]).toMatchObject({
      name: 'message',
      malformed: false,
    });
  });
});

describe('routesFromConfig', () => {
  it('builds each model route from its targets and sends the rest to the first upstream', () => {
    const a = fakeUpstream('a', []);
    const b = fakeUpstream('b', []);
    const routes = routesFromConfig(
      [
        { id: 'claude-x', targets: [{ upstream: 'b', model: 'x@1', weight: 2 }, { upstream: 'a' }] },
        { id: 'claude-y' },
      ],
      [a, b],
    );
    expect(routes.map((r) => [r.model, r.targets.map((t) => [t.upstream.name, t.model, t.weight])])).toEqual([
      [
        'claude-x',
        [
          ['b', 'x@1', 2],
          ['a', undefined, undefined],
        ],
      ],
      ['*', [['a', undefined, undefined]]],
    ]);
    expect(findRoute(routes, 'claude-y')?.model).toBe('*');
    expect(() => routesFromConfig([{ id: 'm', targets: [{ upstream: 'nope' }] }], [a])).toThrow(
      "model 'm': no upstream is named 'nope'",
    );
  });
});
