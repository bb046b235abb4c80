/**
 * One `inference_requests` row per inference / count_tokens request, admitted or refused. Written after the
 * response, never on its path.
 *
 * Rows are batched: one multi-row INSERT per `batchMs` (or per `maxBatch` rows), because a transaction per request
 * was the gateway's largest per-request cost (see bench/README.md), above all on embedded PGlite. A failed insert
 * is logged and the batch is retried with back-off, up to `maxQueued` rows held in memory; beyond that the oldest
 * rows are dropped with an error log that names how many. `flush()` (called at shutdown) writes everything queued.
 * A process that is killed without a shutdown loses at most the rows of one batch window.
 */
import type { Logger } from '../log/logger.ts';
import type { Store } from './store.ts';

export interface InferenceRecord {
  requestId: string;
  subject: string | null;
  model: string | null;
  stream: boolean | null;
  upstream: string | null;
  /** The model id at the upstream that answered (after routing and failover). */
  upstreamModel?: string | null;
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

export interface RecorderOptions {
  batchMs?: number;
  maxBatch?: number;
  maxQueued?: number;
  retryMs?: number;
}

const COLUMNS =
  '(request_id, subject, model, stream, upstream, upstream_model, status, error_type, started_at, duration_ms, input_tokens, output_tokens)';
const PER_ROW = 12;

function insertFor(rows: number): string {
  const tuples: string[] = [];
  for (let r = 0; r < rows; r++) {
    const base = r * PER_ROW;
    tuples.push(`(${Array.from({ length: PER_ROW }, (_, i) => `$${base + i + 1}`).join(', ')})`);
  }
  return `INSERT INTO inference_requests ${COLUMNS} VALUES ${tuples.join(', ')} ON CONFLICT (request_id) DO NOTHING`;
}

function params(r: InferenceRecord): unknown[] {
  return [
    r.requestId,
    r.subject,
    r.model,
    r.stream,
    r.upstream,
    r.upstreamModel ?? null,
    r.status,
    r.errorType,
    r.startedAt.toISOString(),
    Math.round(r.durationMs),
    r.inputTokens,
    r.outputTokens,
  ];
}

export function createInferenceRecorder(
  store: Store,
  logger: Logger,
  options: RecorderOptions = {},
): InferenceRecorder {
  const batchMs = options.batchMs ?? 25;
  const maxBatch = options.maxBatch ?? 200;
  const maxQueued = options.maxQueued ?? 50_000;
  const retryMs = options.retryMs ?? 1000;
  let queue: InferenceRecord[] = [];
  let timer: NodeJS.Timeout | null = null;
  let writing: Promise<void> | null = null;

  function schedule(delay: number): void {
    if (timer || writing) return;
    timer = setTimeout(() => {
      timer = null;
      void writeBatch();
    }, delay);
    // Never keep the process alive for the log alone; shutdown calls flush().
    timer.unref();
  }

  async function writeBatch(): Promise<boolean> {
    const batch = queue.slice(0, maxBatch);
    if (batch.length === 0) return true;
    queue = queue.slice(batch.length);
    let ok = true;
    writing = store
      .query(insertFor(batch.length), batch.flatMap(params))
      .then(
        () => {},
        (err: unknown) => {
          ok = false;
          queue = [...batch, ...queue];
          const over = queue.length - maxQueued;
          if (over > 0) {
            queue = queue.slice(over);
            logger.error('inference records dropped: the database stayed unavailable', { dropped: over });
          }
          logger.error('cannot record inference requests; will retry', { err, rows: batch.length });
        },
      )
      .finally(() => {
        writing = null;
      });
    await writing;
    if (queue.length > 0) schedule(ok ? (queue.length >= maxBatch ? 0 : batchMs) : retryMs);
    return ok;
  }

  return {
    record(r) {
      queue.push(r);
      if (queue.length >= maxBatch && timer) {
        clearTimeout(timer);
        timer = null;
      }
      schedule(queue.length >= maxBatch ? 0 : batchMs);
    },
    async flush() {
      if (timer) {
        clearTimeout(timer);
        timer = null;
      }
      if (writing) await writing;
      // One pass over what is queued now; a database that stays down does not hang shutdown.
      let attempts = Math.ceil(queue.length / maxBatch) + 1;
      while (queue.length > 0 && attempts-- > 0) {
        if (!(await writeBatch())) break;
      }
      if (timer) {
        clearTimeout(timer);
        timer = null;
      }
      if (queue.length > 0) {
        logger.error('inference records not written at shutdown', { rows: queue.length });
      }
    },
  };
}
