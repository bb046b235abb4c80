/**
 * One `inference_requests` row per inference / count_tokens request, admitted or refused. Written after the
 * response, never on its path: a failed insert is logged, not thrown. `flush()` waits for pending writes (shutdown).
 */
import type { Logger } from '../log/logger.ts';
import type { Store } from './store.ts';

export interface InferenceRecord {
  requestId: string;
  subject: string | null;
  model: string | null;
  stream: boolean | null;
  upstream: string | null;
  status: number;
  errorType: string | null;
  startedAt: Date;
  durationMs: number;
  inputTokens: number | null;
  outputTokens: number | null;
}

export interface InferenceRecorder {
  record(r: InferenceRecord): void;
  flush(): Promise<void>;
}

const INSERT = `INSERT INTO inference_requests
  (request_id, subject, model, stream, upstream, status, error_type, started_at, duration_ms, input_tokens, output_tokens)
  VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`;

export function createInferenceRecorder(store: Store, logger: Logger): InferenceRecorder {
  const pending = new Set<Promise<void>>();
  return {
    record(r) {
      const p = store
        .query(INSERT, [
          r.requestId,
          r.subject,
          r.model,
          r.stream,
          r.upstream,
          r.status,
          r.errorType,
          r.startedAt.toISOString(),
          Math.round(r.durationMs),
          r.inputTokens,
          r.outputTokens,
        ])
        .then(
          () => {},
          (err: unknown) => logger.error('cannot record inference request', { err, request_id: r.requestId }),
        )
        .finally(() => pending.delete(p));
      pending.add(p);
    },
    async flush() {
      while (pending.size > 0) await Promise.all([...pending]);
    },
  };
}
