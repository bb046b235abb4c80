/**
 * PASSTHROUGH-3 — the Bedrock surface authenticates exactly as the Messages API: the access token is accepted in
 * `Authorization: Bearer` (as the Bedrock SDK sends `AWS_BEARER_TOKEN_BEDROCK`) and in `x-api-key`; no credential,
 * a token the gateway never issued, an access token with its signature altered, and an AWS SigV4 `Authorization`
 * (a client that was not told to skip AWS auth) are refused with `401` in Bedrock's shape — `x-amzn-ErrorType`
 * `UnrecognizedClientException` and a `{"message"}` body — on InvokeModel and InvokeModelWithResponseStream, and no
 * upstream is contacted.
 */
import { expectThat } from '../../errors.ts';
import { defineCase } from '../../runner/types.ts';
import {
  bedrockBody,
  expectBedrockError,
  expectMessageAnswer,
  expectNoUpstream,
  resetUpstreams,
  sendBedrock,
  upstreamMessage,
} from './support.ts';

const BEDROCK_ID = 'anthropic.claude-sonnet-4-5-20250929-v1:0';

/** The token with one character of its last segment (a JWT's signature) changed. */
function altered(token: string): string {
  const last = token.at(-2) === 'A' ? 'B' : 'A';
  return `${token.slice(0, -2)}${last}${token.slice(-1)}`;
}

export default defineCase({
  id: 'passthrough/bedrock-credentials',
  title: 'The Bedrock surface takes the gateway access token and answers 401 in Bedrock shape without it',
  feature: 'bedrock-passthrough',
  requirements: ['PASSTHROUGH-3'],
  timeoutMs: 30_000,
  async run(ctx) {
    const token = ctx.gateway.bearer;
    const date = new Date().toISOString().replace(/[-:]|\.\d{3}/g, '');
    // The credential headers of each refused request (the runner's bearer is never added).
    const refusals: Array<[string, Record<string, string>]> = [
      ['no credential', {}],
      ['a bearer the gateway never issued', { authorization: `Bearer ocg-${ctx.rng.string(40)}` }],
      ['the access token with its signature altered', { authorization: `Bearer ${altered(token)}` }],
      [
        'an AWS SigV4 authorization',
        {
          authorization:
            `AWS4-HMAC-SHA256 Credential=AKIA${ctx.rng.hex(8).toUpperCase()}/${date.slice(0, 8)}/us-east-1/bedrock/aws4_request, ` +
            `SignedHeaders=content-type;host;x-amz-date, Signature=${ctx.rng.hex(32)}`,
          'x-amz-date': date,
        },
      ],
    ];
    for (const stream of [false, true]) {
      const op = stream ? 'InvokeModelWithResponseStream' : 'InvokeModel';
      for (const [name, headers] of refusals) {
        resetUpstreams(ctx);
        const what = `${op} with ${name}`;
        await expectBedrockError(
          await sendBedrock(ctx, BEDROCK_ID, stream, { body: bedrockBody(ctx), headers, bearer: null }),
          401,
          what,
        );
        expectNoUpstream(ctx, what);
      }
    }

    const accepted: Array<[string, Record<string, string>]> = [
      ['the access token in Authorization: Bearer', { authorization: `Bearer ${token}` }],
      ['the access token in x-api-key', { 'x-api-key': token }],
    ];
    for (const [name, headers] of accepted) {
      resetUpstreams(ctx);
      const what = `InvokeModel with ${name}`;
      await expectMessageAnswer(
        await sendBedrock(ctx, BEDROCK_ID, false, { body: bedrockBody(ctx), headers, bearer: null }),
        what,
      );
      const upstream = await upstreamMessage(ctx, what);
      expectThat(
        !Object.values(upstream.headers).some((v) => v.includes(token)),
        `${what}: the access token reached the upstream`,
      );
    }
  },
});
