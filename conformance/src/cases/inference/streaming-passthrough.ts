/**
 * INFERENCE-2 — `stream: true` answers text/event-stream and relays every upstream SSE event (pings and event
 * types the gateway does not know included) in order and unchanged: a seeded tool-use stream, then every valid
 * vector of fixtures/sse/ sent byte for byte.
 */

import { isDeepStrictEqual } from 'node:util';
import { expectThat, fail } from '../../errors.ts';
import type { MockEvent, MockScript } from '../../mocks/anthropic/index.ts';
import { type CaseContext, defineCase } from '../../runner/types.ts';
import type { Rng } from '../../util/rng.ts';
import { fixtureOr, messageBody, upstreamRequest } from '../support.ts';

/** A tool-use stream shaped after the SDK fixture `tool_use_response.txt`, with seeded ids and text. */
export function toolUseTranscript(rng: Rng, model: string): MockEvent[] {
  const text = ['Let me ', 'check the ', `weather ${rng.string(5)}.`];
  const json = ['{"city": "Par', 'is", "unit"', `: "c${rng.int(9)}"}`];
  return [
    {
      event: 'message_start',
      data: {
        type: 'message_start',
        message: {
          id: `msg_01${rng.string(22)}`,
          type: 'message',
          role: 'assistant',
          model,
          content: [],
          stop_reason: null,
          stop_sequence: null,
          usage: {
            input_tokens: 400 + rng.int(100),
            cache_creation_input_tokens: 0,
            cache_read_input_tokens: 0,
            output_tokens: 1,
            service_tier: 'standard',
          },
        },
      },
    },
    {
      event: 'content_block_start',
      data: { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } },
    },
    { event: 'ping', data: '{"type": "ping"}' },
    ...text.map((t) => ({
      event: 'content_block_delta',
      data: { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: t } },
    })),
    { event: 'content_block_stop', data: { type: 'content_block_stop', index: 0 } },
    {
      event: 'content_block_start',
      data: {
        type: 'content_block_start',
        index: 1,
        content_block: { type: 'tool_use', id: `toolu_01${rng.string(20)}`, name: 'get_weather', input: {} },
      },
    },
    ...json.map((p) => ({
      event: 'content_block_delta',
      data: { type: 'content_block_delta', index: 1, delta: { type: 'input_json_delta', partial_json: p } },
    })),
    { event: 'content_block_stop', data: { type: 'content_block_stop', index: 1 } },
    // An event type this version of the protocol does not know: the API keeps growing, relays must pass it on.
    { event: 'ocg_future_event', data: { type: 'ocg_future_event', value: rng.string(8) } },
    {
      event: 'message_delta',
      data: {
        type: 'message_delta',
        delta: { stop_reason: 'tool_use', stop_sequence: null },
        usage: { output_tokens: 40 + rng.int(40) },
      },
    },
    { event: 'message_stop', data: { type: 'message_stop' } },
  ];
}

/** The valid SSE vectors of fixtures/sse/*.json (kind `sse`): a raw transcript and the events it must yield. */
interface SseFixture {
  cases: Array<{
    name: string;
    transcript: string;
    events: Array<{ event: string; data: unknown }>;
    valid: boolean;
  }>;
}

const FIXTURE_FILES = [
  'sse/text-answer.json',
  'sse/tool-use.json',
  'sse/thinking.json',
  'sse/ping-and-error.json',
  'sse/padding-and-framing.json',
];

type Stream = { name: string; script: MockScript; expected: Array<{ event: string; data: unknown }> };

async function relayOne(ctx: CaseContext, stream: Stream): Promise<void> {
  ctx.mocks.anthropic.reset();
  ctx.mocks.anthropic.enqueue(stream.script);
  const body = messageBody(ctx.rng, { stream: true });
  const res = await ctx.client.send({ operationId: 'createMessage', path: '/v1/messages', body });
  expectThat(res.status === 200, `${stream.name}: expected status 200, got ${res.status}`);
  expectThat(
    /^text\/event-stream\b/i.test(res.contentType ?? ''),
    `${stream.name}: expected content-type text/event-stream, got ${res.contentType}`,
  );
  const received: Array<{ event: string; data: unknown }> = [];
  for await (const ev of res.events()) received.push({ event: ev.event, data: ev.json });
  await upstreamRequest(ctx);
  const { expected } = stream;
  for (let i = 0; i < Math.max(expected.length, received.length); i++) {
    if (!isDeepStrictEqual(received[i], expected[i])) {
      fail(
        `${stream.name}: event #${i} differs: the upstream sent ${expected[i] ? expected[i]?.event : 'nothing'}, ` +
          `the client received ${received[i] ? received[i]?.event : 'nothing'}`,
        {
          index: i,
          expected: expected[i],
          received: received[i],
          receivedEvents: received.map((e) => e.event),
        },
      );
    }
  }
}

export default defineCase({
  id: 'inference/streaming-passthrough',
  title: 'Streamed answers relay every SSE event in order, unchanged',
  feature: 'inference',
  requirements: ['INFERENCE-2'],
  timeoutMs: 30_000,
  async run(ctx) {
    const seeded = toolUseTranscript(ctx.rng, 'claude-sonnet-4-5');
    const streams: Stream[] = [
      {
        name: 'seeded tool-use stream',
        script: { events: seeded, eventDelayMs: 5 },
        expected: seeded.map((e) => ({
          event: e.event,
          data: typeof e.data === 'string' ? JSON.parse(e.data) : e.data,
        })),
      },
    ];
    // The shared vectors, sent byte for byte (CRLF, padding, comments, unknown types): what a conforming SSE
    // parser reads from the upstream is what it must read from the gateway.
    for (const file of FIXTURE_FILES) {
      const fixture = await fixtureOr<SseFixture>(ctx, file, () => ({ cases: [] }));
      for (const c of fixture.cases.filter((c) => c.valid)) {
        streams.push({
          name: `${file} "${c.name}"`,
          script: { transcript: c.transcript },
          expected: c.events,
        });
      }
    }
    for (const stream of streams) await relayOne(ctx, stream);
  },
});
