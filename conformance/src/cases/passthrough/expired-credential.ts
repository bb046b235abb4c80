/**
 * PASSTHROUGH-3, its expired half — an access token past its lifetime and the gateway's clock skew is refused on the
 * pass-through surfaces as on the Messages API: `401` in Bedrock's shape on InvokeModel and
 * InvokeModelWithResponseStream, in `Authorization: Bearer` and in `x-api-key`, and — when the gateway declares
 * `vertex-passthrough` — `401 UNAUTHENTICATED` in Google's envelope on rawPredict; no upstream is contacted.
 *
 * The token is issued in `prepare`, right after the gateway starts, and shown to work there; after the wait a
 * request with the runner's fresh token is answered first, so the refusals are down to the token's age alone. The
 * runner puts the case last, beside session/expiry, so its waiting overlaps the other cases.
 */
import { defineCase } from '../../runner/types.ts';
import type { TokenSet } from '../../signin/driver.ts';
import { accessTokenExpiredAt, sleep } from '../support.ts';
import {
  bedrockBody,
  expectBedrockError,
  expectGoogleError,
  expectMessageAnswer,
  expectNoUpstream,
  resetUpstreams,
  sendBedrock,
  sendVertex,
  vertexBody,
} from './support.ts';

const BEDROCK_ID = 'anthropic.claude-sonnet-4-5-20250929-v1:0';
const VERTEX_MODEL = 'claude-sonnet-4-5@20250929';
const TIMEOUT_MS = 180_000;

/** null: the gateway has no sign-in, so no access token of the run expires. */
type Prepared = { tokens: TokenSet } | null;

export default defineCase({
  id: 'passthrough/expired-credential',
  title: 'An expired access token is refused with 401 in the provider shape on the pass-through surfaces',
  feature: 'bedrock-passthrough',
  requirements: ['PASSTHROUGH-3'],
  timeoutMs: TIMEOUT_MS,
  async prepare(ctx): Promise<Prepared> {
    if (!ctx.gateway.features.includes('sign-in')) return null;
    const tokens = await ctx.signIn(ctx.idp.createUser({ groups: [ctx.policy.groups.developers] }));
    await expectMessageAnswer(
      await sendBedrock(ctx, BEDROCK_ID, false, { body: bedrockBody(ctx), bearer: tokens.accessToken }),
      'InvokeModel with a fresh access token',
    );
    return { tokens };
  },
  async run(ctx) {
    const prepared = ctx.prepared as Prepared;
    if (prepared === null) {
      ctx.note(
        'the gateway declares no sign-in: no access token of this run expires, so expiry was not observed',
      );
      return;
    }
    const { tokens } = prepared;
    const expired = accessTokenExpiredAt(ctx, tokens);
    if (expired - Date.now() > TIMEOUT_MS - 15_000) {
      ctx.note(
        `expiry not observed: expires_in ${tokens.expiresIn} s + skew ${ctx.gateway.clockToleranceS} s is longer than the case can wait`,
      );
      return;
    }
    await sleep(Math.max(0, expired - Date.now()));
    // The control: the same surface answers a fresh token now, so the refusals below are down to age alone.
    await expectMessageAnswer(
      await sendBedrock(ctx, BEDROCK_ID, false, { body: bedrockBody(ctx) }),
      "InvokeModel with the runner's fresh access token",
    );
    const age = `an access token ${tokens.expiresIn} s + ${ctx.gateway.clockToleranceS} s skew after issue`;
    const token = tokens.accessToken;
    for (const stream of [false, true]) {
      const op = stream ? 'InvokeModelWithResponseStream' : 'InvokeModel';
      for (const [where, headers] of [
        ['Authorization: Bearer', { authorization: `Bearer ${token}` }],
        ['x-api-key', { 'x-api-key': token }],
      ] as const) {
        resetUpstreams(ctx);
        const what = `${op} with ${age} in ${where}`;
        await expectBedrockError(
          await sendBedrock(ctx, BEDROCK_ID, stream, { body: bedrockBody(ctx), headers, bearer: null }),
          401,
          what,
        );
        expectNoUpstream(ctx, what);
      }
    }
    if (ctx.gateway.features.includes('vertex-passthrough')) {
      resetUpstreams(ctx);
      const what = `Vertex rawPredict with ${age}`;
      await expectGoogleError(
        await sendVertex(ctx, VERTEX_MODEL, false, { body: vertexBody(ctx), bearer: token }),
        [401],
        what,
      );
      expectNoUpstream(ctx, what);
    }
  },
});
