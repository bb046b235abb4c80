/**
 * The scripting vocabulary of the mock upstream: what the next response(s) should be, including the faults the
 * conformance cases need (an error status, a delay, a stream cut after K events, a stall after K events).
 */
import type { MockEvent } from './responses.ts';

export interface MockScript {
  /** HTTP status (default 200). A status ≥ 400 without `body` answers the API's error envelope for it. */
  status?: number;
  /** Extra / overriding response headers; an empty value removes the header (e.g. the default `retry-after`). */
  headers?: Record<string, string>;
  /** A JSON body (objects are serialized; strings are sent as they are). Ignored when `events` is set. */
  body?: unknown;
  /** Wait this long before sending the status line. */
  delayMs?: number;
  /** Answer with these SSE events (content-type text/event-stream) instead of a JSON body. */
  events?: MockEvent[];
  /**
   * Answer with this raw text/event-stream body, sent as it is (CRLF, comments, padding kept), one chunk per
   * event. Ignored when `events` is set.
   */
  transcript?: string;
  /** Wait this long between SSE events. */
  eventDelayMs?: number;
  /** Destroy the connection after K events (0: before any header is sent — an unreachable upstream). */
  cutAfter?: number;
  /** Stop after K events until `release()` is called (or the client goes away). */
  holdAfter?: number;
  /** How many requests this script answers (default 1). */
  times?: number;
}

const KEYS = new Set([
  'status',
  'headers',
  'body',
  'delayMs',
  'events',
  'transcript',
  'eventDelayMs',
  'cutAfter',
  'holdAfter',
  'times',
]);

/** Checks a script received over the control API; returns readable problems. */
export function scriptProblems(script: unknown): string[] {
  if (typeof script !== 'object' || script === null || Array.isArray(script))
    return ['a script must be an object'];
  const problems: string[] = [];
  for (const key of Object.keys(script)) if (!KEYS.has(key)) problems.push(`unknown script field "${key}"`);
  const s = script as Record<string, unknown>;
  for (const key of ['status', 'delayMs', 'eventDelayMs', 'cutAfter', 'holdAfter', 'times']) {
    const value = s[key];
    if (value !== undefined && (typeof value !== 'number' || !Number.isInteger(value) || value < 0)) {
      problems.push(`${key} must be a non-negative integer`);
    }
  }
  if (s.events !== undefined) {
    if (!Array.isArray(s.events)) problems.push('events must be an array');
    else
      s.events.forEach((e, i) => {
        if (typeof e !== 'object' || e === null || typeof (e as MockEvent).event !== 'string') {
          problems.push(`events[${i}] must be {event: string, data}`);
        }
      });
  }
  if (s.transcript !== undefined && typeof s.transcript !== 'string')
    problems.push('transcript must be a string');
  if (s.headers !== undefined) {
    if (typeof s.headers !== 'object' || s.headers === null) problems.push('headers must be an object');
    else
      for (const [k, v] of Object.entries(s.headers))
        if (typeof v !== 'string') problems.push(`headers.${k} must be a string`);
  }
  return problems;
}
