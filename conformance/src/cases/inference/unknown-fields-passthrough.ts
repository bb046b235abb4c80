/**
 * INFERENCE-7 — a Claude-Code-shaped request (metadata.user_id, thinking, context_management, output_config, a
 * mid-conversation system message, cache_control, fields the protocol does not know) and the client headers
 * `x-app`, `x-claude-code-session-id`, `x-stainless-*` are accepted and reach the upstream intact.
 */
import { expectThat } from '../../errors.ts';
import { defineCase } from '../../runner/types.ts';
import type { Rng } from '../../util/rng.ts';
import { drain, expectEqual, fixtureOr, upstreamJson, upstreamRequest } from '../support.ts';

function uuid(rng: Rng): string {
  const h = rng.hex(32);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20)}`;
}

/** The shape of a request Claude Code 2.1 sends (values seeded). */
export function claudeCodeBody(rng: Rng, sessionId: string): Record<string, unknown> {
  return {
    model: 'claude-sonnet-4-5',
    max_tokens: 32000,
    stream: true,
    system: [
      { type: 'text', text: "You are Claude Code, Anthropic's official CLI for Claude." },
      {
        type: 'text',
        text: `Working directory: /home/dev/${rng.string(8)}`,
        cache_control: { type: 'ephemeral' },
      },
    ],
    messages: [
      {
        role: 'user',
        content: [
          { type: 'text', text: '<system-reminder>This is a reminder.</system-reminder>' },
          {
            type: 'text',
            text: `Fix the failing test ${rng.string(6)}`,
            cache_control: { type: 'ephemeral', ttl: '1h' },
          },
        ],
      },
      {
        role: 'assistant',
        content: [
          { type: 'thinking', thinking: 'Let me look at the test.', signature: `sig_${rng.string(40)}` },
          { type: 'tool_use', id: `toolu_01${rng.string(20)}`, name: 'Bash', input: { command: 'npm test' } },
        ],
      },
      { role: 'system', content: `Context note ${rng.string(10)}: the user switched branches.` },
      { role: 'user', content: 'Go on.' },
    ],
    tools: [
      {
        name: 'Bash',
        description: 'Run a shell command',
        input_schema: { type: 'object', properties: { command: { type: 'string' } }, required: ['command'] },
      },
    ],
    metadata: { user_id: `user_${rng.hex(64)}_account_${uuid(rng)}_session_${sessionId}` },
    thinking: { type: 'enabled', budget_tokens: 1024 + rng.int(30000) },
    context_management: { edits: [{ type: 'clear_thinking_20251015', keep: 'all' }] },
    output_config: { effort: rng.pick(['low', 'medium', 'high']) },
    temperature: 1,
    [`ocg_unknown_${rng.string(6).toLowerCase()}`]: { nested: [1, { deeper: rng.string(4) }], flag: null },
  };
}

export default defineCase({
  id: 'inference/unknown-fields-passthrough',
  title: 'Claude Code request fields and headers pass through intact',
  feature: 'inference',
  requirements: ['INFERENCE-7'],
  timeoutMs: 15_000,
  async run(ctx) {
    const sessionId = uuid(ctx.rng);
    // The shared Claude Code vector when the repository ships it, with seeded fields on top; else the kit's own.
    const vectors = await fixtureOr<{ cases: Array<{ name: string; body: Record<string, unknown> }> }>(
      ctx,
      'messages/create-message.json',
      () => ({ cases: [] }),
    );
    const vector = vectors.cases.find((c) => c.name.startsWith('Claude Code style'))?.body;
    const seeded = claudeCodeBody(ctx.rng, sessionId);
    const body = vector
      ? {
          ...vector,
          metadata: seeded.metadata,
          ...Object.fromEntries(Object.entries(seeded).filter(([k]) => k.startsWith('ocg_unknown_'))),
        }
      : seeded;
    const headers: Array<[string, string]> = [
      ['x-app', 'cli'],
      ['x-claude-code-session-id', sessionId],
      ['x-stainless-helper-method', 'stream'],
      ['x-stainless-retry-count', '0'],
      [
        'anthropic-beta',
        'claude-code-20250219,interleaved-thinking-2025-05-14,context-management-2025-06-27',
      ],
    ];
    const res = await ctx.client.send({ operationId: 'createMessage', path: '/v1/messages', headers, body });
    const events = await drain(res);
    expectThat(res.status === 200, `expected status 200, got ${res.status}`);
    expectThat(events.at(-1) === 'message_stop', `the stream ended with ${events.at(-1)}, not message_stop`);
    const upstream = await upstreamRequest(ctx);
    expectEqual(upstreamJson(upstream), body, 'the body the upstream received vs the body the client sent');
    const missing = headers.filter(([n, v]) => upstream.headers[n] !== v).map(([n]) => n);
    expectThat(
      missing.length === 0,
      `client headers did not reach the upstream intact: ${missing.join(', ')}`,
    );
  },
});
