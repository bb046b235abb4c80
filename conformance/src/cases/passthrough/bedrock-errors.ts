/**
 * PASSTHROUGH-6 (PASSTHROUGH-2, PASSTHROUGH-4) — Bedrock pass-through errors are Bedrock's: the exception in
 * `x-amzn-ErrorType`, a `{"message"}` body and Bedrock's status for it. A model the caller's policy does not allow
 * and a model id that maps to no catalogue model are `400 ValidationException` on InvokeModel and
 * InvokeModelWithResponseStream, before any upstream is contacted (the allowlist applies exactly as on
 * `/v1/messages`: the allowed model is served); an upstream's `400` and `404` reach the client as
 * `ValidationException` and `ResourceNotFoundException`; and an upstream that keeps answering `429` with
 * `retry-after` gets the status `/v1/messages` answers for it in Bedrock's terms (`429 ThrottlingException`,
 * `529`/`503` → `503 ServiceUnavailableException`), with `retry-after` kept exactly when `/v1/messages` keeps it.
 * The throttled model's target may be left unavailable for a while (retry-after, circuit breaker): the case waits,
 * bounded by the breaker cool-down the kit asked for, until the model serves again before and after each fault.
 */
import { expectThat, fail } from '../../errors.ts';
import { type CaseContext, defineCase } from '../../runner/types.ts';
import { signedIn } from '../policy/support.ts';
import { sleep } from '../support.ts';
import {
  anthropicMessageRequests,
  BEDROCK_EXCEPTION,
  bedrockBody,
  expectBedrockError,
  expectMessageAnswer,
  expectNoUpstream,
  messageMembers,
  resetUpstreams,
  sendBedrock,
  upstreamMessage,
} from './support.ts';

/** Bedrock ids of the fixture's restricted model and of a model it does not allow. */
const BEDROCK_IDS: Readonly<Record<string, string>> = {
  'claude-haiku-4-5': 'anthropic.claude-haiku-4-5-20251001-v1:0',
  'claude-sonnet-4-5': 'anthropic.claude-sonnet-4-5-v1:0',
  'claude-opus-4-1': 'us.anthropic.claude-opus-4-1-20250805-v1:0',
};

const THROTTLED_MODEL = 'claude-opus-4-1';
const THROTTLED_ID = 'us.anthropic.claude-opus-4-1-20250805-v1:0';

/** The Bedrock status for the status `/v1/messages` answers (Bedrock has no 529; other 5xx may be 500 or 503). */
function bedrockStatusFor(status: number): number[] {
  if (status === 529) return [503];
  if (BEDROCK_EXCEPTION[status] !== undefined) return [status];
  return status >= 500 ? [500, 503] : [400];
}

/** Plain requests until `model` is served by the Anthropic mock again (bounded by the breaker cool-down + 5 s). */
async function untilServed(ctx: CaseContext, model: string): Promise<void> {
  const limit = (ctx.timing.routing?.breakerCoolDownMs ?? 2000) + 5000;
  const deadline = Date.now() + limit;
  for (;;) {
    resetUpstreams(ctx);
    const res = await ctx.client.send({
      operationId: 'createMessage',
      path: '/v1/messages',
      body: {
        model,
        max_tokens: 16,
        messages: [{ role: 'user', content: `serving probe ${ctx.rng.string(8)}` }],
      },
    });
    await res.text();
    if (res.status === 200 && anthropicMessageRequests(ctx).length > 0) break;
    if (Date.now() > deadline) {
      fail(
        `${model} was not served again within ${limit} ms after an upstream fault (last answer ${res.status})`,
      );
    }
    await sleep(200);
  }
  resetUpstreams(ctx);
}

export default defineCase({
  id: 'passthrough/bedrock-errors',
  title: 'Bedrock pass-through errors carry x-amzn-ErrorType, {"message"} and Bedrock’s status',
  feature: 'bedrock-passthrough',
  requirements: ['PASSTHROUGH-6', 'PASSTHROUGH-2', 'PASSTHROUGH-4'],
  timeoutMs: 60_000,
  async run(ctx) {
    const { restrictedModel } = ctx.policy;
    const denied = ctx.policy.models.find((m) => m.id !== restrictedModel && BEDROCK_IDS[m.id] !== undefined);
    const allowedId = BEDROCK_IDS[restrictedModel] ?? `anthropic.${restrictedModel}-v1:0`;
    const unknownId = `anthropic.claude-nonesuch-${ctx.rng.hex(4)}-20250101-v1:0`;

    const refusals: Array<[string, string, string | undefined]> = [
      [`${unknownId}, which maps to no catalogue model`, unknownId, undefined],
    ];
    let restricted: string | undefined;
    if (ctx.gateway.features.includes('sign-in') && denied) {
      restricted = (await signedIn(ctx, [ctx.policy.groups.restricted])).tokens.accessToken;
      const deniedId = BEDROCK_IDS[denied.id] as string;
      refusals.unshift([
        `${deniedId} (${denied.id}) for a user whose policy allows only ${restrictedModel}`,
        deniedId,
        restricted,
      ]);
    } else {
      ctx.note('sign-in not declared: a model refused by policy was not checked, only an unknown one');
    }
    for (const stream of [false, true]) {
      for (const [name, id, bearer] of refusals) {
        resetUpstreams(ctx);
        const what = `${stream ? 'InvokeModelWithResponseStream' : 'InvokeModel'} for ${name}`;
        await expectBedrockError(
          await sendBedrock(ctx, id, stream, { body: bedrockBody(ctx), ...(bearer ? { bearer } : {}) }),
          400,
          what,
        );
        expectNoUpstream(ctx, what);
      }
    }
    if (restricted) {
      resetUpstreams(ctx);
      const what = `InvokeModel for ${allowedId}, the restricted user's allowed model`;
      await expectMessageAnswer(
        await sendBedrock(ctx, allowedId, false, { body: bedrockBody(ctx), bearer: restricted }),
        what,
      );
      const upstream = await upstreamMessage(ctx, what);
      expectThat(
        upstream.json.model === restrictedModel,
        `${what}: the upstream was sent model ${JSON.stringify(upstream.json.model)}, not ${restrictedModel}`,
      );
    }

    // Throttling: the same persistent upstream 429 through /v1/messages, then through InvokeModel.
    const throttle = { status: 429, headers: { 'retry-after': '1' }, times: 50 };
    await untilServed(ctx, THROTTLED_MODEL);
    ctx.mocks.anthropic.enqueue(throttle);
    const direct = await ctx.client.send({
      operationId: 'createMessage',
      path: '/v1/messages',
      body: { model: THROTTLED_MODEL, ...messageMembers(ctx) },
    });
    await direct.text();
    expectThat(
      direct.status >= 400,
      `POST /v1/messages against an upstream answering 429: got ${direct.status}`,
    );
    await untilServed(ctx, THROTTLED_MODEL);
    ctx.mocks.anthropic.enqueue(throttle);
    const throttled = `InvokeModel ${THROTTLED_ID} against an upstream answering 429 retry-after: 1 (POST /v1/messages answered ${direct.status}${direct.headers['retry-after'] === undefined ? '' : ` with retry-after ${direct.headers['retry-after']}`})`;
    const res = await sendBedrock(ctx, THROTTLED_ID, false, { body: bedrockBody(ctx) });
    const error = await expectBedrockError(res, bedrockStatusFor(direct.status), throttled);
    expectThat(
      (error.headers['retry-after'] !== undefined) === (direct.headers['retry-after'] !== undefined),
      `${throttled}: retry-after must be kept as on /v1/messages, got ${JSON.stringify(error.headers['retry-after'])}`,
    );
    await untilServed(ctx, THROTTLED_MODEL);

    // Upstream errors the gateway passes on (non-retryable 4xx), in Bedrock's shape.
    for (const [status, type] of [
      [400, 'invalid_request_error'],
      [404, 'not_found_error'],
    ] as const) {
      resetUpstreams(ctx);
      const what = `InvokeModel answered ${status} ${type} by the upstream`;
      ctx.mocks.anthropic.enqueue({ status, times: 3 });
      await expectBedrockError(
        await sendBedrock(ctx, 'anthropic.claude-sonnet-4-5-20250929-v1:0', false, {
          body: bedrockBody(ctx),
        }),
        status,
        what,
      );
    }
  },
});
