/** The inference recorder batches rows, retries a failed batch and writes everything queued at shutdown. */
import { describe, expect, it } from 'vitest';
import { createLogger } from '../src/log/logger.ts';
import { createInferenceRecorder, type InferenceRecord } from '../src/store/inference-log.ts';
import type { Store } from '../src/store/store.ts';

function fakeStore(failFirst = 0) {
  const inserted: string[] = [];
  const statements: number[] = [];
  let failures = failFirst;
  const store = {
    async query(_sql: string, params: unknown[] = []) {
      if (failures > 0) {
        failures--;
        throw new Error('database unavailable');
      }
      statements.push(params.length / 12);
      for (let i = 0; i < params.length; i += 12) inserted.push(params[i] as string);
      return { rows: [] };
    },
  } as unknown as Store;
  return { store, inserted, statements };
}

const lines: string[] = [];
const logger = createLogger({ level: 'debug', write: (l) => lines.push(l) });

function rec(i: number): InferenceRecord {
  return {
    requestId: `req_${i}`,
    subject: 'u',
    model: 'm',
    stream: false,
    upstream: 'a',
    status: 200,
    errorType: null,
    startedAt: new Date(),
    durationMs: 1,
    inputTokens: 1,
    outputTokens: 1,
  };
}

describe('inference recorder', () => {
  it('writes many records in few statements and loses none', async () => {
    const { store, inserted, statements } = fakeStore();
    const r = createInferenceRecorder(store, logger, { batchMs: 5, maxBatch: 50 });
    for (let i = 0; i < 120; i++) r.record(rec(i));
    await r.flush();
    expect(inserted).toEqual(Array.from({ length: 120 }, (_, i) => `req_${i}`));
    expect(statements.length).toBeLessThanOrEqual(3);
  });

  it('retries a batch the database refused', async () => {
    const { store, inserted } = fakeStore(1);
    const r = createInferenceRecorder(store, logger, { batchMs: 1, retryMs: 5 });
    r.record(rec(1));
    r.record(rec(2));
    await new Promise((res) => setTimeout(res, 60));
    await r.flush();
    expect(inserted).toEqual(['req_1', 'req_2']);
    expect(lines.some((l) => l.includes('will retry'))).toBe(true);
  });

  it('drops the oldest rows beyond the queue bound, and says how many', async () => {
    const { store, inserted } = fakeStore(1);
    const r = createInferenceRecorder(store, logger, { batchMs: 1, retryMs: 5, maxQueued: 3, maxBatch: 10 });
    for (let i = 0; i < 5; i++) r.record(rec(i));
    await new Promise((res) => setTimeout(res, 60));
    await r.flush();
    expect(inserted).toEqual(['req_2', 'req_3', 'req_4']);
    expect(lines.some((l) => l.includes('"dropped":2'))).toBe(true);
  });
});
