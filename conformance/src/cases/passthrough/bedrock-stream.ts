/**
 * PASSTHROUGH-5 — Bedrock InvokeModelWithResponseStream is answered as an AWS event stream
 * (`application/vnd.amazon.eventstream`): frames decoded by `@smithy/eventstream-codec`, which checks both CRCs,
 * each a `chunk` (`:message-type: event`, `:event-type: chunk`, `:content-type: application/json`) whose payload
 * `{"bytes": …}` decodes to one of the upstream's Anthropic events — all of them, in order, unchanged (pings may be
 * left out, `message_stop` may carry `amazon-bedrock-invocationMetrics`). Frames are written as events arrive: the
 * first content reaches the client while the upstream still holds the rest of its stream. A stream the upstream
 * cuts after content ends with an `:message-type: exception` frame, never with `message_stop`.
 */
import { expectThat, fail } from '../../errors.ts';
import { cannedEvents } from '../../mocks/anthropic/responses.ts';
import { defineCase } from '../../runner/types.ts';
import { sleep } from '../support.ts';
import {
  bedrockBody,
  expectSameEvents,
  openEventStream,
  type ReadFrame,
  resetUpstreams,
  sendBedrock,
  upstreamMessage,
} from './support.ts';

const MODEL = 'claude-sonnet-4-5-20250929';
const BEDROCK_ID = 'us.anthropic.claude-sonnet-4-5-20250929-v1:0';
const FIRST_CONTENT_DEADLINE_MS = 5000;
/** message_start, content_block_start, ping, the first content_block_delta of the canned stream. */
const OPENING_AND_FIRST_CONTENT = 4;

const EVENT_STREAM = 'application/vnd.amazon.eventstream';

function events(frames: ReadFrame[]): Array<Record<string, unknown>> {
  return frames.flatMap((f) => (f.event ? [f.event] : []));
}

export default defineCase({
  id: 'passthrough/bedrock-stream',
  title: 'InvokeModelWithResponseStream answers a CRC-valid AWS event stream of the upstream’s events',
  feature: 'bedrock-passthrough',
  requirements: ['PASSTHROUGH-5'],
  timeoutMs: 40_000,
  async run(ctx) {
    const mock = ctx.mocks.anthropic;
    const text = `Seeded stream ${ctx.rng.string(12)}: one two three four five six seven eight nine ten.`;
    const sent = cannedEvents(MODEL, 20 + ctx.rng.int(200), text);

    // 1. Held after the first content: it must reach the client while the upstream holds the rest.
    let what = `InvokeModelWithResponseStream ${BEDROCK_ID}`;
    mock.enqueue({ events: sent, holdAfter: OPENING_AND_FIRST_CONTENT });
    const body = bedrockBody(ctx);
    const res = await sendBedrock(ctx, BEDROCK_ID, true, { body });
    if (res.status !== 200 || !(res.contentType ?? '').toLowerCase().startsWith(EVENT_STREAM)) {
      mock.release();
      const answer = await res.text();
      fail(`${what}: expected 200 ${EVENT_STREAM}, got ${res.status} ${res.contentType}`, {
        body: answer.slice(0, 500),
      });
    }
    const stream = openEventStream(res, what);
    const firstContent = (async () => {
      for (;;) {
        const frame = await stream.next();
        if (frame === null || frame.event?.type === 'content_block_delta') return frame;
      }
    })();
    firstContent.catch(() => {});
    const outcome = await Promise.race([
      firstContent,
      sleep(FIRST_CONTENT_DEADLINE_MS).then(() => 'late' as const),
    ]);
    mock.release();
    if (outcome === 'late') {
      fail(
        `${what}: no chunk frame with the first content within ${FIRST_CONTENT_DEADLINE_MS} ms although the upstream had sent it ` +
          '(the upstream was holding the rest of the stream): the gateway buffers the event stream',
        { framesSoFar: stream.frames.length },
      );
    }
    expectThat(outcome !== null, `${what}: the stream ended before its first content`, {
      frames: events(stream.frames).map((e) => e.type),
    });
    // The gateway gives up on a held upstream at its idle limit; content that arrives only after that was held back.
    expectThat(
      mock.requests[0]?.closedByClient !== true,
      `${what}: the first content reached the client only after the gateway had hung up on the upstream that was ` +
        'holding the rest of its stream: the gateway buffers the event stream',
      { firstContentAtMs: Math.round(outcome.at) },
    );
    const frames = await stream.rest();
    const exception = frames.find((f) => f.headers[':message-type'] === 'exception');
    expectThat(!exception, `${what}: a complete upstream stream must not end with an exception frame`, {
      exception: exception?.headers,
      payload: exception?.text,
    });
    expectSameEvents(events(frames), sent, what);
    const upstream = await upstreamMessage(ctx, what);
    expectThat(
      upstream.json.stream === true,
      `${what}: the upstream request must be a stream (stream: true), got ${JSON.stringify(upstream.json.stream)}`,
    );
    expectThat(
      upstream.json.model === MODEL,
      `${what}: must be served as the catalogue model ${MODEL}, but the upstream was sent model ${JSON.stringify(upstream.json.model)}`,
    );

    // 2. Cut by the upstream after content: the stream ends with an exception frame, not message_stop.
    resetUpstreams(ctx);
    what = `InvokeModelWithResponseStream ${BEDROCK_ID}, the upstream cutting its stream after content`;
    const cutAfter = OPENING_AND_FIRST_CONTENT + 1;
    mock.enqueue({ events: sent, cutAfter });
    const cut = await sendBedrock(ctx, BEDROCK_ID, true, { body: bedrockBody(ctx) });
    if (cut.status !== 200 || !(cut.contentType ?? '').toLowerCase().startsWith(EVENT_STREAM)) {
      const answer = await cut.text();
      fail(`${what}: expected 200 ${EVENT_STREAM} (content was sent before the cut), got ${cut.status}`, {
        body: answer.slice(0, 500),
      });
    }
    const cutFrames = await openEventStream(cut, what).rest();
    const last = cutFrames.at(-1);
    expectThat(
      last?.headers[':message-type'] === 'exception',
      `${what}: the stream must end with an :message-type: exception frame, it ended with ${last ? (last.event?.type ?? JSON.stringify(last.headers)) : 'no frame'}`,
      { events: events(cutFrames).map((e) => e.type) },
    );
    expectThat(
      typeof last.headers[':exception-type'] === 'string' && last.headers[':exception-type'] !== '',
      `${what}: the exception frame has no :exception-type`,
      { headers: last.headers },
    );
    const got = events(cutFrames);
    expectThat(
      !got.some((e) => e.type === 'message_stop'),
      `${what}: a cut stream must never present message_stop`,
    );
    // What the upstream sent before the cut, up to where the gateway had relayed it (at least the first content).
    expectThat(
      got.some((e) => e.type === 'content_block_delta'),
      `${what}: the content sent before the cut must reach the client before the exception`,
      { events: got.map((e) => e.type) },
    );
    const before = sent.slice(0, cutAfter);
    const relayed = got.some((e) => e.type === 'ping') ? before : before.filter((e) => e.event !== 'ping');
    expectSameEvents(got, relayed.slice(0, got.length), `${what}: the frames before the exception`);
  },
});
