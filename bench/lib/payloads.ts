/** Request bodies the load generators send, and the canned answers of the plain upstream. */

/** A small Messages request, the size of a short single-turn prompt. */
export function messageRequestBody(stream: boolean): string {
  return JSON.stringify({
    model: 'claude-sonnet-4-5',
    max_tokens: 256,
    messages: [{ role: 'user', content: 'Say hello in one short sentence.' }],
    ...(stream ? { stream: true } : {}),
  });
}

const usage = {
  input_tokens: 14,
  output_tokens: 12,
  cache_creation_input_tokens: 0,
  cache_read_input_tokens: 0,
};

/** The plain upstream's non-streaming answer. */
export const cannedMessage = JSON.stringify({
  id: 'msg_bench0000000000000000000',
  type: 'message',
  role: 'assistant',
  model: 'claude-sonnet-4-5',
  content: [{ type: 'text', text: 'Hello! How can I help you today?' }],
  stop_reason: 'end_turn',
  stop_sequence: null,
  usage,
});

function sse(event: string, data: unknown): string {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

/** The plain upstream's SSE answer, one string per event, in order. */
export function cannedStreamEvents(deltas: number): string[] {
  const words = ['Hello', '!', ' How', ' can', ' I', ' help', ' you', ' today', '?'];
  const events = [
    sse('message_start', {
      type: 'message_start',
      message: {
        id: 'msg_bench0000000000000000000',
        type: 'message',
        role: 'assistant',
        model: 'claude-sonnet-4-5',
        content: [],
        stop_reason: null,
        stop_sequence: null,
        usage: { ...usage, output_tokens: 1 },
      },
    }),
    sse('content_block_start', {
      type: 'content_block_start',
      index: 0,
      content_block: { type: 'text', text: '' },
    }),
    sse('ping', { type: 'ping' }),
  ];
  for (let i = 0; i < deltas; i++) {
    events.push(
      sse('content_block_delta', {
        type: 'content_block_delta',
        index: 0,
        delta: { type: 'text_delta', text: words[i % words.length] },
      }),
    );
  }
  events.push(
    sse('content_block_stop', { type: 'content_block_stop', index: 0 }),
    sse('message_delta', {
      type: 'message_delta',
      delta: { stop_reason: 'end_turn', stop_sequence: null },
      usage: { output_tokens: 12 },
    }),
    sse('message_stop', { type: 'message_stop' }),
  );
  return events;
}
