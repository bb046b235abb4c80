/**
 * The scripting vocabulary of the mock Bedrock runtime: what the next response(s) should be, including the faults
 * real Bedrock shows (throttling, model not ready, service unavailable, exception frames mid-stream) and the ones
 * a transport can (delays, a cut or stall after K frames, a CRC-corrupt frame, a malformed chunk).
 */
import type { MockEvent } from '../anthropic/responses.ts';

/** One frame of a scripted event stream. */
export type MockBedrockFrame =
  /** A `chunk` event carrying this Anthropic stream event (`data` is the event JSON; `event` is informative). */
  | MockEvent
  /** A modeled exception frame, e.g. `{exception: 'throttlingException'}`; `fields` are added to its JSON body. */
  | { exception: string; message?: string; fields?: Record<string, unknown> }
  /** An unmodeled error frame (`:message-type: error`). */
  | { errorCode: string; message?: string }
  /** A chunk frame with this payload text verbatim (e.g. not JSON, or `bytes` not base64 of an event). */
  | { rawPayload: string }
  /** This Anthropic event as a chunk frame whose message CRC is wrong. */
  | { corrupt: MockEvent };

export interface MockBedrockScript {
  /** HTTP status (default 200). A status ≥ 400 without `body` answers Bedrock's error shape for it. */
  status?: number;
  /** The exception name for an error status (default by status: 429 → ThrottlingException, …). */
  errorType?: string;
  /** The error message (default a realistic one). */
  message?: string;
  /** Extra / overriding response headers. */
  headers?: Record<string, string>;
  /** A JSON body (objects are serialized; strings are sent as they are). Ignored when `frames` is set. */
  body?: unknown;
  /** Wait this long before sending the status line. */
  delayMs?: number;
  /** Answer a stream with exactly these frames instead of the canned answer. */
  frames?: MockBedrockFrame[];
  /** In the canned stream, replace the frames from index K on with a `{exception}` frame (then end). */
  exceptionAfter?: { after: number; exception: string; message?: string };
  /** In the canned stream, send frame K with a corrupt CRC (then the rest). */
  corruptAt?: number;
  /** Leave out the `p` padding field (default: every chunk is padded). */
  noPadding?: boolean;
  /** Wait this long between frames. */
  eventDelayMs?: number;
  /** Destroy the connection after K frames (0: before any header is sent — an unreachable upstream). */
  cutAfter?: number;
  /** Stop after K frames until `release()` is called (or the client goes away). */
  holdAfter?: number;
  /** How many requests this script answers (default 1). */
  times?: number;
}

const KEYS = new Set([
  'status',
  'errorType',
  'message',
  'headers',
  'body',
  'delayMs',
  'frames',
  'exceptionAfter',
  'corruptAt',
  'noPadding',
  'eventDelayMs',
  'cutAfter',
  'holdAfter',
  'times',
]);

/** Checks a script received over the control API; returns readable problems. */
export function bedrockScriptProblems(script: unknown): string[] {
  if (typeof script !== 'object' || script === null || Array.isArray(script))
    return ['a script must be an object'];
  const problems: string[] = [];
  for (const key of Object.keys(script)) if (!KEYS.has(key)) problems.push(`unknown script field "${key}"`);
  const s = script as Record<string, unknown>;
  for (const key of ['status', 'delayMs', 'eventDelayMs', 'cutAfter', 'holdAfter', 'times', 'corruptAt']) {
    const value = s[key];
    if (value !== undefined && (typeof value !== 'number' || !Number.isInteger(value) || value < 0)) {
      problems.push(`${key} must be a non-negative integer`);
    }
  }
  for (const key of ['errorType', 'message']) {
    if (s[key] !== undefined && typeof s[key] !== 'string') problems.push(`${key} must be a string`);
  }
  if (s.frames !== undefined) {
    if (!Array.isArray(s.frames)) problems.push('frames must be an array');
    else
      s.frames.forEach((f, i) => {
        const ok =
          typeof f === 'object' &&
          f !== null &&
          (typeof (f as { event?: unknown }).event === 'string' ||
            typeof (f as { exception?: unknown }).exception === 'string' ||
            typeof (f as { errorCode?: unknown }).errorCode === 'string' ||
            typeof (f as { rawPayload?: unknown }).rawPayload === 'string' ||
            typeof (f as { corrupt?: unknown }).corrupt === 'object');
        if (!ok)
          problems.push(
            `frames[${i}] must be {event,data}, {exception}, {errorCode}, {rawPayload} or {corrupt}`,
          );
      });
  }
  if (s.exceptionAfter !== undefined) {
    const e = s.exceptionAfter as { after?: unknown; exception?: unknown };
    if (typeof e !== 'object' || e === null || !Number.isInteger(e.after) || typeof e.exception !== 'string')
      problems.push('exceptionAfter must be {after: integer, exception: string}');
  }
  if (s.headers !== undefined) {
    if (typeof s.headers !== 'object' || s.headers === null) problems.push('headers must be an object');
    else
      for (const [k, v] of Object.entries(s.headers))
        if (typeof v !== 'string') problems.push(`headers.${k} must be a string`);
  }
  return problems;
}
