import { describe, expect, it } from 'vitest';
import { createLogger, REDACTED, redact } from '../src/log/logger.ts';

const SECRET = 'sk-ant-configured-secret-value';

describe('redact', () => {
  const cases: Array<[name: string, given: unknown, want: unknown]> = [
    ['authorization header', { authorization: 'Bearer abc.def' }, { authorization: REDACTED }],
    ['x-api-key header', { headers: { 'x-api-key': 'k1' } }, { headers: { 'x-api-key': REDACTED } }],
    ['cookies', { cookie: 'a=b', 'set-cookie': ['s=1'] }, { cookie: REDACTED, 'set-cookie': [REDACTED] }],
    [
      'token fields',
      { token: 'x', refresh_token: 'y', devToken: 'z' },
      { token: REDACTED, refresh_token: REDACTED, devToken: REDACTED },
    ],
    ['api keys', { apiKey: 'x', api_key: 'y' }, { apiKey: REDACTED, api_key: REDACTED }],
    [
      'passwords and secrets',
      { password: 'p', clientSecret: 's' },
      { password: REDACTED, clientSecret: REDACTED },
    ],
    ['token counts stay', { input_tokens: 12, output_tokens: 3 }, { input_tokens: 12, output_tokens: 3 }],
    [
      'configured secret inside free text',
      { msg: `upstream said ${SECRET} oops` },
      { msg: `upstream said ${REDACTED} oops` },
    ],
    [
      'URL password',
      { url: 'postgres://ocg:hunter2@db:5432/x' },
      { url: `postgres://ocg:${REDACTED}@db:5432/x` },
    ],
    ['bearer in free text', { note: 'sent Bearer abcdefghijkl' }, { note: `sent Bearer ${REDACTED}` }],
    ['nested arrays', [{ auth: { 'x-api-key': 'k' } }], [{ auth: { 'x-api-key': REDACTED } }]],
    [
      'plain values untouched',
      { status: 200, path: '/v1/messages', ok: true },
      { status: 200, path: '/v1/messages', ok: true },
    ],
  ];
  it.each(cases)('%s', (_name, given, want) => {
    expect(redact(given, [SECRET])).toEqual(want);
  });

  it('handles errors and cycles', () => {
    const err = new Error(`failed with ${SECRET}`);
    const cyclic: Record<string, unknown> = { err };
    cyclic.self = cyclic;
    const out = redact(cyclic, [SECRET]) as { err: { message: string; stack: string }; self: unknown };
    expect(out.err.message).toBe(`failed with ${REDACTED}`);
    expect(out.err.stack).not.toContain(SECRET);
    expect(out.self).toBe('[Circular]');
  });
});

describe('createLogger', () => {
  it('writes one JSON line per call with time, level, msg and fields, redacted', () => {
    const lines: string[] = [];
    const log = createLogger({ level: 'info', secrets: [SECRET], write: (l) => lines.push(l) });
    log.debug('hidden');
    log
      .child({ request_id: 'req_1' })
      .info('hello', { headers: { authorization: `Bearer ${SECRET}` }, n: 1 });
    log.error(`msg with ${SECRET}`);
    expect(lines).toHaveLength(2);
    expect(lines.every((l) => l.endsWith('\n'))).toBe(true);
    const first = JSON.parse(lines[0] as string);
    expect(first).toMatchObject({
      level: 'info',
      msg: 'hello',
      request_id: 'req_1',
      n: 1,
      headers: { authorization: REDACTED },
    });
    expect(typeof first.time).toBe('string');
    expect(lines.join('')).not.toContain(SECRET);
  });
});
