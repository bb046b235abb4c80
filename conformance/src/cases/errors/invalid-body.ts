/**
 * ERRORS-3 — a body that is not JSON, or that fails the request schema, is `400 invalid_request_error`, and the
 * upstream is not called. Bodies: the kit's own table plus the invalid vectors of fixtures/messages/create-message.json.
 */
import { defineCase } from '../../runner/types.ts';
import { expectError, expectNoUpstreamCall, fixtureOr } from '../support.ts';

const messages = [{ role: 'user', content: 'hi' }];

/** [what, raw body]: each must be refused before any upstream call. */
const TABLE: Array<[string, string]> = [
  ['truncated JSON', '{"model": "claude-sonnet-4-5", "max_tokens": 10, "messages": ['],
  ['not JSON at all', 'model=claude&max_tokens=10'],
  ['an empty body', ''],
  ['a JSON array', JSON.stringify([{ model: 'claude-sonnet-4-5' }])],
  ['missing model', JSON.stringify({ max_tokens: 10, messages })],
  ['empty model', JSON.stringify({ model: '', max_tokens: 10, messages })],
  ['missing max_tokens', JSON.stringify({ model: 'claude-sonnet-4-5', messages })],
  ['max_tokens as a string', JSON.stringify({ model: 'claude-sonnet-4-5', max_tokens: '10', messages })],
  ['max_tokens zero', JSON.stringify({ model: 'claude-sonnet-4-5', max_tokens: 0, messages })],
  ['messages not an array', JSON.stringify({ model: 'claude-sonnet-4-5', max_tokens: 10, messages: 'hi' })],
  [
    'a message without role',
    JSON.stringify({ model: 'claude-sonnet-4-5', max_tokens: 10, messages: [{ content: 'hi' }] }),
  ],
  [
    'stream not a boolean',
    JSON.stringify({ model: 'claude-sonnet-4-5', max_tokens: 10, messages, stream: 'yes' }),
  ],
];

export default defineCase({
  id: 'errors/invalid-body',
  title: 'Invalid request bodies are refused with 400 before any upstream call',
  feature: 'inference',
  requirements: ['ERRORS-3'],
  timeoutMs: 20_000,
  async run(ctx) {
    const vectors = await fixtureOr<{
      cases: Array<{ name: string; operationId: string; body: unknown; valid: boolean }>;
    }>(ctx, 'messages/create-message.json', () => ({ cases: [] }));
    const table: Array<[string, string]> = [
      ...TABLE,
      ...vectors.cases
        .filter((c) => c.operationId === 'createMessage' && !c.valid)
        .map((c): [string, string] => [`fixture "${c.name}"`, JSON.stringify(c.body)]),
    ];
    for (const [what, body] of table) {
      const res = await ctx.client.send({
        operationId: 'createMessage',
        path: '/v1/messages',
        method: 'POST',
        body,
      });
      await expectError(res, 400, ['invalid_request_error'], what);
    }
    expectNoUpstreamCall(ctx, 'invalid bodies');
  },
});
