/**
 * PASSTHROUGH-8 (PASSTHROUGH-2, PASSTHROUGH-3, PASSTHROUGH-6) — Bedrock CountTokens on the gateway. An AWS SDK
 * `CountTokensCommand` body, `{"input": {"invokeModel": {"body": "<base64 of an InvokeModel body>"}}}`, for a
 * Bedrock model id is served as `POST /v1/messages/count_tokens`: the upstream receives the decoded body as an
 * Anthropic count_tokens body (the catalogue model; `anthropic_version` gone; `anthropic_beta` in the
 * `anthropic-beta` header; the members only generation takes, `max_tokens` and `temperature` here, dropped; the
 * rest as the client sent it) and the client receives the upstream's count in Bedrock's shape, `{"inputTokens": N}`.
 * A body without `input.invokeModel.body`, one that is not the base64 of a JSON object, or whose decoded body lacks
 * `anthropic_version` or `messages` is `400 ValidationException`; so is a model that maps to nothing (and, with
 * `sign-in`, a model the caller's policy refuses); no credential is `401` — none of them reaching an upstream.
 */
import { expectThat } from '../../errors.ts';
import { defineCase } from '../../runner/types.ts';
import { signedIn } from '../policy/support.ts';
import { expectEqual } from '../support.ts';
import {
  BEDROCK_VERSION,
  bedrockCountTokensBody,
  betasOf,
  countProbe,
  expectBedrockError,
  expectJsonAnswer,
  expectNoUpstream,
  resetUpstreams,
  sendBedrockCountTokens,
  upstreamCount,
} from './support.ts';

const MODEL = 'claude-sonnet-4-5-20250929';
const BEDROCK_ID = 'us.anthropic.claude-sonnet-4-5-20250929-v1:0';
/** Bedrock ids of the policy fixture's models (for the allowlist check). */
const BEDROCK_IDS: Readonly<Record<string, string>> = {
  'claude-haiku-4-5': 'anthropic.claude-haiku-4-5-20251001-v1:0',
  'claude-sonnet-4-5': 'anthropic.claude-sonnet-4-5-v1:0',
  'claude-opus-4-1': 'us.anthropic.claude-opus-4-1-20250805-v1:0',
};

const base64 = (text: string) => Buffer.from(text, 'utf8').toString('base64');

export default defineCase({
  id: 'passthrough/bedrock-count-tokens',
  title: 'Bedrock CountTokens is served as /v1/messages/count_tokens and answered {"inputTokens"}',
  feature: 'bedrock-passthrough',
  requirements: ['PASSTHROUGH-8', 'PASSTHROUGH-2', 'PASSTHROUGH-3', 'PASSTHROUGH-6'],
  timeoutMs: 30_000,
  async run(ctx) {
    // 1. The count: the decoded body upstream as a count_tokens body, the upstream's count back as inputTokens.
    const { beta, counted } = countProbe(ctx);
    const invokeBody = {
      anthropic_version: BEDROCK_VERSION,
      anthropic_beta: [beta],
      max_tokens: 32 + ctx.rng.int(256),
      temperature: 0.5,
      ...counted,
    };
    const inputTokens = 1 + ctx.rng.int(100_000);
    let what = `CountTokens ${BEDROCK_ID}`;
    ctx.mocks.anthropic.enqueue({ body: { input_tokens: inputTokens } });
    const got = await expectJsonAnswer(
      await sendBedrockCountTokens(ctx, BEDROCK_ID, { body: bedrockCountTokensBody(invokeBody) }),
      what,
    );
    const upstream = await upstreamCount(ctx, what);
    expectEqual(
      upstream.json,
      { model: MODEL, ...counted },
      `${what}: the upstream count_tokens body vs the decoded InvokeModel body (catalogue model, without anthropic_version, anthropic_beta, max_tokens, temperature)`,
    );
    expectThat(
      betasOf(upstream.headers).includes(beta),
      `${what}: anthropic_beta [${beta}] must reach the upstream in the anthropic-beta header, got ${JSON.stringify(upstream.headers['anthropic-beta'])}`,
    );
    expectThat(
      !ctx.mocks.anthropic.requests.some((r) => r.url.split('?')[0] === '/v1/messages'),
      `${what}: a count must not be served as a Messages request (the upstream received POST /v1/messages)`,
    );
    expectEqual(got, { inputTokens }, `${what}: the answer vs the upstream's count in Bedrock's shape`);

    // 2. Bodies that are not CountTokens bodies for an InvokeModel body: ValidationException, no upstream.
    const { anthropic_version: _v, ...withoutVersion } = invokeBody;
    const { messages: _m, ...withoutMessages } = invokeBody;
    const invalid: Array<[string, unknown]> = [
      ['an empty object', {}],
      ['input without invokeModel', { input: {} }],
      ['input.invokeModel without body', { input: { invokeModel: {} } }],
      [
        'input.invokeModel.body that is not base64',
        { input: { invokeModel: { body: '%%% not base64 %%%' } } },
      ],
      [
        'input.invokeModel.body the base64 of text that is not JSON',
        bedrockCountTokensBody('{"anthropic_version": '),
      ],
      [
        'input.invokeModel.body the base64 of a JSON array',
        { input: { invokeModel: { body: base64('[]') } } },
      ],
      ['a decoded body without anthropic_version', bedrockCountTokensBody(withoutVersion)],
      ['a decoded body without messages', bedrockCountTokensBody(withoutMessages)],
    ];
    for (const [name, bad] of invalid) {
      resetUpstreams(ctx);
      what = `CountTokens with ${name}`;
      await expectBedrockError(await sendBedrockCountTokens(ctx, BEDROCK_ID, { body: bad }), 400, what);
      expectNoUpstream(ctx, what);
    }

    // 3. Refused models and credentials, in Bedrock's shape, before any upstream.
    const good = bedrockCountTokensBody({ anthropic_version: BEDROCK_VERSION, messages: counted.messages });
    const refusals: Array<[string, string, string | null | undefined, number]> = [
      ['no credential', BEDROCK_ID, null, 401],
      [
        'a model that maps to no catalogue model',
        `anthropic.claude-nonesuch-${ctx.rng.hex(4)}-20250101-v1:0`,
        undefined,
        400,
      ],
    ];
    const { restrictedModel } = ctx.policy;
    const denied = ctx.policy.models.find((m) => m.id !== restrictedModel && BEDROCK_IDS[m.id] !== undefined);
    if (ctx.gateway.features.includes('sign-in') && denied) {
      const { tokens } = await signedIn(ctx, [ctx.policy.groups.restricted]);
      refusals.push([
        `${denied.id} for a user whose policy allows only ${restrictedModel}`,
        BEDROCK_IDS[denied.id] as string,
        tokens.accessToken,
        400,
      ]);
    } else {
      ctx.note('sign-in not declared: a model refused by policy was not checked on CountTokens');
    }
    for (const [name, id, bearer, status] of refusals) {
      resetUpstreams(ctx);
      what = `CountTokens with ${name}`;
      await expectBedrockError(
        await sendBedrockCountTokens(ctx, id, { body: good, ...(bearer === undefined ? {} : { bearer }) }),
        status,
        what,
      );
      expectNoUpstream(ctx, what);
    }
  },
});
