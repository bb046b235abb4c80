/**
 * Bedrock all the way: the official Bedrock SDK → the gateway's Bedrock-shaped surface → a `kind: bedrock` upstream
 * (the kit's faithful Bedrock mock). The path's Bedrock id maps to the catalogue model through its
 * `targets[].model` (PASSTHROUGH-2, rule 1), the allowlist and record see the catalogue id, and the router sends
 * the target's own Bedrock id upstream — the client sees Bedrock's answer re-encoded, streaming and not.
 */
import AnthropicBedrock from '@anthropic-ai/bedrock-sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_ANSWER } from '../../conformance/src/mocks/anthropic/index.ts';
import { type MockBedrock, startMockBedrock } from '../../conformance/src/mocks/bedrock/index.ts';
import { parseConfig } from '../src/config/load.ts';
import { type Gateway, startGateway } from '../src/gateway.ts';
import { captureLogger, ENV, TOKEN, testConfigYaml } from './helpers.ts';

const TARGET_MODEL = 'us.anthropic.claude-sonnet-4-5-20250929-v1:0';

let mock: MockBedrock;
let gateway: Gateway;

beforeAll(async () => {
  mock = await startMockBedrock();
  const yaml = testConfigYaml({ upstreamUrl: 'http://127.0.0.1:9' }).replace(
    /upstreams:[\s\S]*?\nmodels:[\s\S]*?\nlog:/,
    `upstreams:
  - name: bedrock
    kind: bedrock
    baseUrl: ${mock.url}
    region: us-east-1
    auth:
      type: api-key
      apiKey: \${env:BEDROCK_API_KEY}
models:
  - id: house-sonnet
    displayName: Sonnet on our Bedrock account
    targets: [{ upstream: bedrock, model: "${TARGET_MODEL}" }]
policies:
  - { name: everyone, match: { everyone: true }, models: ['*'] }
log:`,
  );
  const config = parseConfig(yaml, { ...ENV, BEDROCK_API_KEY: mock.apiKey });
  gateway = await startGateway(config, { logger: captureLogger([TOKEN, mock.apiKey]).logger });
});

afterAll(async () => {
  await gateway?.close();
  await mock?.close();
});

function client(): AnthropicBedrock {
  return new AnthropicBedrock({ baseURL: gateway.url, awsRegion: 'us-east-1', apiKey: TOKEN, maxRetries: 0 });
}

describe('Bedrock SDK → gateway → Bedrock upstream', () => {
  it.each([false, true])(
    'stream %s: the target id goes upstream, the client gets the answer',
    async (stream) => {
      mock.reset();
      const params = {
        model: TARGET_MODEL,
        max_tokens: 32,
        messages: [{ role: 'user' as const, content: 'Hi' }],
      };
      let text: string;
      if (stream) {
        const s = client().messages.stream(params);
        text = ((await s.finalMessage()).content[0] as { text: string }).text;
      } else {
        text = ((await client().messages.create(params)).content[0] as { text: string }).text;
      }
      expect(text).toBe(DEFAULT_ANSWER);
      const upstream = mock.requests.at(-1);
      expect(decodeURIComponent(upstream?.url ?? '')).toBe(
        `/model/${TARGET_MODEL}/${stream ? 'invoke-with-response-stream' : 'invoke'}`,
      );
      // The gateway's bearer never reaches the provider: the upstream's own API key does.
      expect(upstream?.headers.authorization).toBe(`Bearer ${mock.apiKey}`);
      const since = mock.requests.at(-1)?.receivedAt ?? 0;
      let rows: Array<{ model: string }> = [];
      for (let i = 0; i < 100 && rows.length === 0; i++) {
        rows = (
          await gateway.store.query<{ model: string }>(
            'SELECT model FROM inference_requests WHERE started_at >= $1 AND stream = $2',
            [new Date(since - 5000), stream],
          )
        ).rows;
        if (rows.length === 0) await new Promise((r) => setTimeout(r, 20));
      }
      expect(rows[0]?.model).toBe('house-sonnet');
    },
  );
});
