/**
 * PASSTHROUGH-7 (with the Vertex side of PASSTHROUGH-1…4) — Vertex rawPredict and streamRawPredict on the gateway.
 * A Vertex body (`anthropic_version: vertex-2023-10-16`, the Messages members without `model`) for a Vertex model
 * (`claude-sonnet-4-5@20250929`) is served as `POST /v1/messages` for the catalogue model it names (the upstream is
 * sent the Anthropic body, betas in `anthropic-beta` as the client sent them) and answered with the upstream's
 * Message — or, on streamRawPredict and on rawPredict whose body has `"stream": true`, its SSE events — unchanged;
 * project and location are the client's business.
 * Errors use the Google envelope `{"error": {code, message, status}}`: no credential `401 UNAUTHENTICATED`; a body
 * without `anthropic_version`, a body that is not an object, a model the policy refuses and an upstream `400`:
 * `400 INVALID_ARGUMENT`; a model that maps to nothing `400 INVALID_ARGUMENT` or `404 NOT_FOUND`; an upstream
 * `404`: `404 NOT_FOUND` — none of the refusals reaching an upstream. With `routing` declared, the Vertex id of a
 * routed model's Vertex target is served through that model's routes (a provider mock answers it).
 */
import { isDeepStrictEqual } from 'node:util';
import { expectThat, fail } from '../../errors.ts';
import { cannedEvents } from '../../mocks/anthropic/responses.ts';
import { defineCase } from '../../runner/types.ts';
import { signedIn } from '../policy/support.ts';
import { expectEqual } from '../support.ts';
import {
  betasOf,
  expectAnthropicBody,
  expectGoogleError,
  expectMessageAnswer,
  expectNoUpstream,
  expectServedByRoute,
  resetUpstreams,
  sendVertex,
  upstreamMessage,
  vertexBody,
} from './support.ts';

export default defineCase({
  id: 'passthrough/vertex',
  title:
    'Vertex rawPredict and streamRawPredict answer the Anthropic Message and stream unchanged, errors in the Google envelope',
  feature: 'vertex-passthrough',
  requirements: ['PASSTHROUGH-7', 'PASSTHROUGH-1', 'PASSTHROUGH-2', 'PASSTHROUGH-3', 'PASSTHROUGH-4'],
  timeoutMs: 60_000,
  async run(ctx) {
    // 1. rawPredict: the Anthropic body upstream, the Message back unchanged.
    const beta = `ocg-conformance-beta-${ctx.rng.hex(4)}`;
    const body = vertexBody(ctx, { system: `Probe ${ctx.rng.string(6)}.`, temperature: 0.25 });
    const answer = {
      id: `msg_vrtx_01${ctx.rng.string(22)}`,
      type: 'message',
      role: 'assistant',
      model: 'claude-sonnet-4-5-20250929',
      content: [{ type: 'text', text: `Seeded answer ${ctx.rng.string(16)} ✓`, citations: null }],
      stop_reason: 'end_turn',
      stop_sequence: null,
      usage: { input_tokens: 10 + ctx.rng.int(500), output_tokens: 1 + ctx.rng.int(200) },
      [`ocg_future_field_${ctx.rng.string(6).toLowerCase()}`]: { nested: [1, 'two'] },
    };
    let what = 'rawPredict claude-sonnet-4-5@20250929';
    ctx.mocks.anthropic.enqueue({ body: answer });
    const got = await expectMessageAnswer(
      await sendVertex(ctx, 'claude-sonnet-4-5@20250929', false, {
        body,
        headers: { 'anthropic-beta': beta },
      }),
      what,
    );
    const upstream = await upstreamMessage(ctx, what);
    expectAnthropicBody(upstream.json, body, 'claude-sonnet-4-5-20250929', false, what);
    expectThat(
      betasOf(upstream.headers).includes(beta),
      `${what}: the client's anthropic-beta ${beta} must reach the upstream, got ${JSON.stringify(upstream.headers['anthropic-beta'])}`,
    );
    expectEqual(got, answer, `${what}: the Message the client received vs the one the upstream sent`);

    // 2. streamRawPredict — and rawPredict with `"stream": true` in the body, which the Vertex SDK leaves there
    // (protocol-facts §3): the upstream's SSE events, every one, unchanged.
    for (const operation of [true, false]) {
      resetUpstreams(ctx);
      what = `${operation ? 'streamRawPredict' : 'rawPredict with "stream": true'} claude-haiku-4-5@20251001`;
      const sent = cannedEvents(
        'claude-haiku-4-5',
        30 + ctx.rng.int(100),
        `Seeded stream ${ctx.rng.string(10)}, in words.`,
      );
      ctx.mocks.anthropic.enqueue({ events: sent });
      const streamBody = vertexBody(ctx, { stream: true });
      const res = await sendVertex(ctx, 'claude-haiku-4-5@20251001', operation, { body: streamBody });
      if (res.status !== 200 || !/^text\/event-stream\b/i.test(res.contentType ?? '')) {
        const text = await res.text();
        fail(`${what}: expected 200 text/event-stream, got ${res.status} ${res.contentType}`, {
          body: text.slice(0, 500),
        });
      }
      const events: Array<{ event: string; data: unknown }> = [];
      for await (const ev of res.events()) events.push({ event: ev.event, data: ev.json });
      const want = sent.map((e) => ({ event: e.event, data: e.data }));
      if (!isDeepStrictEqual(events, want)) {
        fail(`${what}: the client's events are not the upstream's, unchanged`, {
          expected: want.map((e) => e.event),
          actual: events.map((e) => e.event),
          firstDifference: events.findIndex((e, i) => !isDeepStrictEqual(e, want[i])),
        });
      }
      const streamed = await upstreamMessage(ctx, what);
      expectAnthropicBody(streamed.json, streamBody, 'claude-haiku-4-5', true, what);
    }

    // 3. A routed model's Vertex target id, through that model's routes.
    const route = ctx.policy.providerRoutes?.find((r) => r.targets[0]?.mock === 'vertex');
    const target = route?.targets[0];
    if (!ctx.gateway.features.includes('routing') || !route || !target) {
      ctx.note('routing not declared: the mapping of a routed target’s Vertex id was not checked');
    } else {
      resetUpstreams(ctx);
      what = `rawPredict ${target.upstreamModel}, the Vertex target of ${route.model}`;
      await expectMessageAnswer(
        await sendVertex(ctx, target.upstreamModel, false, { body: vertexBody(ctx) }),
        what,
      );
      expectServedByRoute(ctx, route, what);
    }

    // 4. Errors in the Google envelope; refusals never reach an upstream.
    const refusals: Array<[string, string, unknown, { bearer?: string | null }, readonly number[]]> = [
      ['no credential', 'claude-sonnet-4-5@20250929', vertexBody(ctx), { bearer: null }, [401]],
      [
        'a body without anthropic_version',
        'claude-sonnet-4-5@20250929',
        { ...vertexBody(ctx), anthropic_version: undefined },
        {},
        [400],
      ],
      ['a body that is a JSON array', 'claude-sonnet-4-5@20250929', [vertexBody(ctx)], {}, [400]],
      [
        'a model that maps to no catalogue model',
        `claude-nonesuch-${ctx.rng.hex(4)}@20250101`,
        vertexBody(ctx),
        {},
        [400, 404],
      ],
    ];
    const { restrictedModel } = ctx.policy;
    if (ctx.gateway.features.includes('sign-in')) {
      const { tokens } = await signedIn(ctx, [ctx.policy.groups.restricted]);
      const deniedModel = restrictedModel === 'claude-sonnet-4-5' ? 'claude-opus-4-1' : 'claude-sonnet-4-5';
      refusals.push([
        `${deniedModel} for a user whose policy allows only ${restrictedModel}`,
        deniedModel,
        vertexBody(ctx),
        { bearer: tokens.accessToken },
        [400],
      ]);
    } else {
      ctx.note('sign-in not declared: a model refused by policy was not checked on Vertex');
    }
    for (const stream of [false, true]) {
      for (const [name, model, bad, credential, statuses] of refusals) {
        resetUpstreams(ctx);
        what = `${stream ? 'streamRawPredict' : 'rawPredict'} with ${name}`;
        await expectGoogleError(
          await sendVertex(ctx, model, stream, { body: bad, ...credential }),
          statuses,
          what,
        );
        expectNoUpstream(ctx, what);
      }
    }
    for (const status of [400, 404]) {
      resetUpstreams(ctx);
      what = `rawPredict answered ${status} by the upstream`;
      ctx.mocks.anthropic.enqueue({ status, times: 3 });
      await expectGoogleError(
        await sendVertex(ctx, 'claude-sonnet-4-5@20250929', false, { body: vertexBody(ctx) }),
        [status],
        what,
      );
    }
  },
});
