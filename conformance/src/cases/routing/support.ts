/**
 * Shared pieces of the routing cases (feature `routing`, ROUTING-*): the routed model of the policy fixture has two
 * targets, mock A (`mocks.anthropic`) then mock B (`mocks.anthropicB`), each under its own upstream model id. The
 * cases script faults on A (or both) and look at which mock got what, and at what the client received.
 *
 * Every case starts from "A serves": a target a previous case failed may have its circuit breaker open, so
 * {@link ensureFirstTargetServes} sends plain requests until A answers one (bounded by the breaker cool-down the kit
 * asked for) and then resets both mocks.
 */
import type { RoutingFixture, RoutingTimingHints } from '../../adapters/contract.ts';
import { expectThat, fail } from '../../errors.ts';
import type { MockAnthropic, MockEvent, RecordedRequest } from '../../mocks/anthropic/index.ts';
import { cannedEvents } from '../../mocks/anthropic/responses.ts';
import type { GatewayResponse } from '../../runner/client.ts';
import type { CaseContext } from '../../runner/types.ts';
import { sleep } from '../support.ts';

/** The limits the kit asks for when an adapter context carries none (same values as the runner's). */
const DEFAULT_TIMING: RoutingTimingHints = {
  firstTokenMs: 2000,
  idleMs: 2000,
  backoffBaseMs: 50,
  breakerFailureThreshold: 5,
  breakerCoolDownMs: 2000,
};

export interface Routed {
  fixture: RoutingFixture;
  /** The first target's mock and upstream model id. */
  a: MockAnthropic;
  aModel: string;
  /** The second target's mock and upstream model id. */
  b: MockAnthropic;
  bModel: string;
  timing: RoutingTimingHints;
}

/** The routed model, its two targets' mocks and the routing limits. */
export function routed(ctx: CaseContext): Routed {
  const fixture = ctx.policy.routing;
  if (!fixture || fixture.targets.length < 2)
    return fail('the policy fixture has no routed model with two targets');
  const mockOf = (t: { mock: string }) =>
    t.mock === 'anthropicB' ? ctx.mocks.anthropicB : ctx.mocks.anthropic;
  const [first, second] = fixture.targets as [RoutingFixture['targets'][0], RoutingFixture['targets'][0]];
  return {
    fixture,
    a: mockOf(first),
    aModel: first.upstreamModel,
    b: mockOf(second),
    bModel: second.upstreamModel,
    timing: ctx.timing.routing ?? DEFAULT_TIMING,
  };
}

/** Messages requests a mock received. */
export function messageRequests(mock: MockAnthropic): RecordedRequest[] {
  return mock.requests.filter((r) => r.method === 'POST' && r.url.split('?')[0] === '/v1/messages');
}

/** Resets both targets' mocks (scripts and recorded requests). */
export function resetTargets(r: Routed): void {
  r.a.reset();
  r.b.reset();
}

/** A request body for the routed model. */
export function routedBody(ctx: CaseContext, r: Routed, stream: boolean): Record<string, unknown> {
  return {
    model: r.fixture.model,
    max_tokens: 64 + ctx.rng.int(256),
    messages: [{ role: 'user', content: `routing probe ${ctx.rng.string(10)}` }],
    ...(stream ? { stream: true } : {}),
  };
}

/** Sends a request for the routed model. */
export function sendRouted(
  ctx: CaseContext,
  r: Routed,
  stream: boolean,
  signal?: AbortSignal,
): Promise<GatewayResponse> {
  return ctx.client.send({
    operationId: 'createMessage',
    path: '/v1/messages',
    body: routedBody(ctx, r, stream),
    ...(signal ? { signal } : {}),
  });
}

/** Fails with `what` unless `promise` settles within `ms` (the case's own bound for one step). */
export async function within<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          try {
            fail(`${what}: no answer within ${ms} ms`);
          } catch (err) {
            reject(err);
          }
        }, ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Brings both targets back into service before a case: a breaker a previous case opened is past its cool-down and
 * closed again by then. First the second target must serve a request the first fails (503 once), then the first
 * must serve a plain request; both mocks are reset afterwards.
 */
export async function ensureFirstTargetServes(ctx: CaseContext, r: Routed): Promise<void> {
  const limit = r.timing.breakerCoolDownMs + 5000;
  for (const target of ['second', 'first'] as const) {
    const deadline = Date.now() + limit;
    for (;;) {
      resetTargets(r);
      if (target === 'second') r.a.enqueue({ status: 503 });
      const res = await sendRouted(ctx, r, false);
      const text = await res.text();
      const serving = target === 'second' ? r.b : r.a;
      if (res.status === 200 && messageRequests(serving).length > 0) break;
      if (Date.now() > deadline) {
        fail(
          `before the case: the routed model's ${target} target served no request within ${limit} ms ` +
            `(last answer ${res.status})`,
          { body: text.slice(0, 500) },
        );
      }
      await sleep(200);
    }
  }
  resetTargets(r);
}

/** The `model` of a Message or of a stream's `message_start`. */
function answerModel(value: unknown): unknown {
  const v = value as { model?: unknown; message?: { model?: unknown } } | null;
  return v?.model ?? v?.message?.model;
}

/**
 * The answer came from target B: B received the request (under its upstream model id) and the model the client
 * sees is not A's upstream model (the mocks echo the model they were sent).
 */
export function expectAnsweredByB(r: Routed, answer: unknown, what: string): void {
  const toB = messageRequests(r.b);
  expectThat(toB.length > 0, `${what}: the second target never received the request`);
  const sent = toB.map((q) => {
    try {
      return (JSON.parse(q.body) as { model?: unknown }).model;
    } catch {
      return undefined;
    }
  });
  expectThat(
    sent.includes(r.bModel),
    `${what}: the second target must be sent its own model id ${JSON.stringify(r.bModel)}, got ${JSON.stringify(sent)}`,
  );
  const model = answerModel(answer);
  expectThat(
    model !== r.aModel,
    `${what}: the answer names the first target's model ${JSON.stringify(model)}, but the second target served it`,
  );
}

/** Reads a 200 JSON Message (fails otherwise). */
export async function expectMessage(res: GatewayResponse, what: string): Promise<Record<string, unknown>> {
  const text = await res.text();
  expectThat(res.status === 200, `${what}: expected 200, got ${res.status}`, { body: text.slice(0, 1000) });
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return fail(`${what}: the answer is not JSON`, { body: text.slice(0, 500) });
  }
  expectThat((body as { type?: unknown }).type === 'message', `${what}: the answer is not a Message object`, {
    body,
  });
  return body as Record<string, unknown>;
}

export interface ReadStream {
  events: Array<{ event: string; json: unknown }>;
  /** ms from the start of reading until `message_stop` was read (undefined without one). */
  stopAt?: number;
  /** ms from the start of reading until the stream ended. */
  endAt: number;
}

/** Reads a 200 SSE answer to its end (fails on another status). */
export async function readStream(res: GatewayResponse, what: string): Promise<ReadStream> {
  if (res.status !== 200 || !/^text\/event-stream\b/i.test(res.contentType ?? '')) {
    const text = await res.text();
    fail(`${what}: expected a 200 text/event-stream, got ${res.status} ${res.contentType}`, {
      body: text.slice(0, 1000),
    });
  }
  const started = performance.now();
  const events: ReadStream['events'] = [];
  let stopAt: number | undefined;
  for await (const ev of res.events()) {
    events.push({ event: ev.event, json: ev.json });
    if (ev.event === 'message_stop') stopAt = performance.now() - started;
  }
  return { events, ...(stopAt === undefined ? {} : { stopAt }), endAt: performance.now() - started };
}

/** A complete, clean stream: one message_start first, message_stop last, every event's data JSON. */
export function expectCompleteStream(stream: ReadStream, what: string): void {
  const names = stream.events.map((e) => e.event);
  expectThat(names[0] === 'message_start', `${what}: the stream must start with message_start`, { names });
  expectThat(names.at(-1) === 'message_stop', `${what}: the stream must end with message_stop`, { names });
  expectThat(
    names.filter((n) => n === 'message_start').length === 1,
    `${what}: the client must see exactly one message_start (no trace of a failed attempt)`,
    { names },
  );
  const notJson = stream.events.filter((e) => typeof e.json !== 'object' || e.json === null);
  expectThat(notJson.length === 0, `${what}: every event's data must be a JSON object`, { notJson });
}

/** The mock's canned stream for `model`, optionally with a recognisable message id. */
export function streamEvents(model: string, messageId?: string): MockEvent[] {
  const events = cannedEvents(model, 12);
  if (messageId !== undefined) {
    const start = events[0]?.data as { message: { id: string } };
    start.message.id = messageId;
  }
  return events;
}

/** A persistent fault on a target: the script repeated for every attempt a gateway may make. */
export const PERSISTENT = 50;
