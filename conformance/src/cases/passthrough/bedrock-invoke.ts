/**
 * PASSTHROUGH-1, PASSTHROUGH-4 — Bedrock InvokeModel on the gateway. A Bedrock-shaped body (`anthropic_version`,
 * `anthropic_beta`, the Messages members without `model` and `stream`) for a Bedrock model id is served as
 * `POST /v1/messages`: the upstream receives the Anthropic body (the catalogue model, the betas in `anthropic-beta`,
 * no provider members, none of the client's credentials) and the client receives the upstream's `Message`
 * unchanged — the same request and the same answer as the same request sent to `/v1/messages`. Bodies that are not
 * Bedrock bodies (not JSON, not an object, no `anthropic_version`, `anthropic_beta` not an array) are refused with
 * Bedrock's `400 ValidationException` and never reach an upstream.
 */
import { expectThat } from '../../errors.ts';
import { defineCase } from '../../runner/types.ts';
import { expectEqual } from '../support.ts';
import {
  BEDROCK_VERSION,
  bedrockBody,
  betasOf,
  expectAnthropicBody,
  expectBedrockError,
  expectMessageAnswer,
  expectNoUpstream,
  resetUpstreams,
  sendBedrock,
  upstreamMessage,
} from './support.ts';

const MODEL = 'claude-sonnet-4-5-20250929';
const BEDROCK_ID = 'anthropic.claude-sonnet-4-5-20250929-v1:0';

export default defineCase({
  id: 'passthrough/bedrock-invoke',
  title: 'Bedrock InvokeModel is served as /v1/messages and answered with the Anthropic Message',
  feature: 'bedrock-passthrough',
  requirements: ['PASSTHROUGH-1', 'PASSTHROUGH-4'],
  timeoutMs: 30_000,
  async run(ctx) {
    const beta = `ocg-conformance-beta-${ctx.rng.hex(4)}`;
    const members = {
      system: `You are conformance probe ${ctx.rng.string(6)}.`,
      temperature: 0.5,
      stop_sequences: [`STOP-${ctx.rng.hex(3)}`],
      metadata: { user_id: `user-${ctx.rng.hex(6)}` },
    };
    const body = bedrockBody(ctx, { anthropic_beta: [beta], ...members });
    const answer = {
      id: `msg_bdrk_01${ctx.rng.string(22)}`,
      type: 'message',
      role: 'assistant',
      model: MODEL,
      content: [{ type: 'text', text: `Seeded answer ${ctx.rng.string(16)} — ünïcödé ✓`, citations: null }],
      stop_reason: 'end_turn',
      stop_sequence: null,
      usage: { input_tokens: 10 + ctx.rng.int(500), output_tokens: 1 + ctx.rng.int(200) },
      [`ocg_future_field_${ctx.rng.string(6).toLowerCase()}`]: { nested: [1, 'two'] },
    };

    let what = `InvokeModel ${BEDROCK_ID}`;
    ctx.mocks.anthropic.enqueue({ body: answer });
    const viaBedrock = await expectMessageAnswer(await sendBedrock(ctx, BEDROCK_ID, false, { body }), what);
    const upstream = await upstreamMessage(ctx, what);
    expectAnthropicBody(upstream.json, body, MODEL, false, what);
    expectThat(
      betasOf(upstream.headers).includes(beta),
      `${what}: anthropic_beta [${beta}] must reach the upstream in the anthropic-beta header, got ${JSON.stringify(upstream.headers['anthropic-beta'])}`,
    );
    const bearer = ctx.gateway.bearer;
    expectThat(
      !Object.values(upstream.headers).some((v) => v.includes(bearer)),
      `${what}: the client's access token reached the upstream (it must be replaced by the upstream's credential)`,
    );
    expectEqual(viaBedrock, answer, `${what}: the Message the client received vs the one the upstream sent`);

    // The same request through /v1/messages: the same upstream request and the same answer.
    resetUpstreams(ctx);
    what = `the same request through POST /v1/messages`;
    ctx.mocks.anthropic.enqueue({ body: answer });
    const { anthropic_version: _v, anthropic_beta: _b, ...messages } = body;
    const viaMessages = await expectMessageAnswer(
      await ctx.client.send({
        operationId: 'createMessage',
        path: '/v1/messages',
        body: { model: MODEL, ...messages },
        headers: { 'anthropic-beta': beta },
      }),
      what,
    );
    const direct = await upstreamMessage(ctx, what);
    expectAnthropicBody(direct.json, body, MODEL, false, what);
    expectEqual(viaBedrock, viaMessages, 'the answers through InvokeModel and through /v1/messages');

    // Bodies that are not Bedrock bodies: ValidationException, and no upstream is contacted.
    const invalid: Array<[string, unknown]> = [
      ['a body that is not JSON', `{"anthropic_version": "${BEDROCK_VERSION}", "max_tokens": `],
      ['a JSON array', [bedrockBody(ctx)]],
      ['a JSON string', JSON.stringify('hello')],
      ['a body without anthropic_version', { ...bedrockBody(ctx), anthropic_version: undefined }],
      ['anthropic_beta that is not an array', bedrockBody(ctx, { anthropic_beta: beta })],
    ];
    for (const stream of [false, true]) {
      for (const [name, bad] of invalid) {
        resetUpstreams(ctx);
        what = `${stream ? 'InvokeModelWithResponseStream' : 'InvokeModel'} with ${name}`;
        await expectBedrockError(await sendBedrock(ctx, BEDROCK_ID, stream, { body: bad }), 400, what);
        expectNoUpstream(ctx, what);
      }
    }
  },
});
