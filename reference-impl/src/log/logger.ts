/**
 * Structured JSON-lines logging with redaction.
 *
 * Each line is one JSON object: `{"time","level","msg",...fields}`. Every logged object goes through `redact()`,
 * which removes credentials by key name (authorization, x-api-key, cookie, tokens, api keys, passwords) and by
 * value (any configured secret, wherever it appears in a string), so a secret never reaches the log stream.
 */
import { isGatewayError } from '../errors.ts';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFields = Record<string, unknown>;

const LEVELS: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  /** A logger that adds `fields` to every line. */
  child(fields: LogFields): Logger;
}

export interface LoggerOptions {
  level?: LogLevel;
  /** Secret values (resolved tokens, API keys, passwords) to scrub from every logged string. */
  secrets?: readonly string[];
  /** Where lines go; defaults to stdout. */
  write?: (line: string) => void;
}

export const REDACTED = '[REDACTED]';

/** Key names whose string values are always redacted. */
const SENSITIVE_KEY =
  /^(authorization|proxy-authorization|x-api-key|api[-_]?key|cookie|set-cookie|password|passwd|secret|client[-_]?secret|token|access[-_]?token|refresh[-_]?token|id[-_]?token|bearer|credentials?)$/i;
/** Key names that look sensitive when they merely contain these words (e.g. `upstreamApiKey`, `devToken`). */
const SENSITIVE_KEY_PART = /(token|secret|password|apikey|api_key|api-key|authorization|cookie)/i;
/** `scheme://user:password@` in URLs (database URLs, proxy URLs). */
const URL_PASSWORD = /([a-z][a-z0-9+.-]*:\/\/[^:/?#@\s]*:)[^@/\s]+@/gi;
/** `Bearer <token>` anywhere in a string. */
const BEARER = /\b(bearer\s+)[A-Za-z0-9._~+/=-]{8,}/gi;

function isSensitiveKey(key: string): boolean {
  return SENSITIVE_KEY.test(key) || SENSITIVE_KEY_PART.test(key);
}

/**
 * Returns a deep copy of `value` with credentials removed. Strings under sensitive keys become `[REDACTED]`
 * (numbers stay, so `input_tokens: 12` survives); configured secret values are scrubbed from every string; URL
 * passwords and bearer tokens inside free text are masked. Errors become `{name, message, code, stack}`.
 */
export function redact(value: unknown, secrets: readonly string[] = []): unknown {
  const usable = secrets.filter((s) => typeof s === 'string' && s.length >= 4);
  const seen = new WeakSet<object>();

  const scrub = (s: string): string => {
    let out = s;
    for (const secret of usable) {
      if (out.includes(secret)) out = out.split(secret).join(REDACTED);
    }
    return out.replace(URL_PASSWORD, `$1${REDACTED}@`).replace(BEARER, `$1${REDACTED}`);
  };

  const walk = (v: unknown, sensitive: boolean): unknown => {
    if (typeof v === 'string') return sensitive ? REDACTED : scrub(v);
    if (v === null || typeof v !== 'object') {
      if (typeof v === 'bigint') return v.toString();
      return v;
    }
    if (seen.has(v)) return '[Circular]';
    seen.add(v);
    if (v instanceof Error) {
      const out: Record<string, unknown> = { name: v.name, message: scrub(v.message) };
      if (isGatewayError(v)) out.code = v.code;
      else if ('code' in v && typeof v.code === 'string') out.code = v.code;
      if (v.stack) out.stack = scrub(v.stack);
      if (v.cause !== undefined) out.cause = walk(v.cause, false);
      return out;
    }
    if (Array.isArray(v)) return v.map((item) => walk(item, sensitive));
    if (v instanceof Date) return v.toISOString();
    if (Buffer.isBuffer(v)) return `[Buffer ${v.length} bytes]`;
    const out: Record<string, unknown> = {};
    for (const [k, item] of Object.entries(v)) {
      out[k] = walk(item, sensitive || isSensitiveKey(k));
    }
    return out;
  };

  return walk(value, false);
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const threshold = LEVELS[options.level ?? 'info'];
  const secrets = [...(options.secrets ?? [])];
  const write = options.write ?? ((line: string) => process.stdout.write(line));

  const make = (bound: LogFields): Logger => {
    const emit = (level: LogLevel, msg: string, fields?: LogFields): void => {
      if (LEVELS[level] < threshold) return;
      const record = redact({ ...bound, ...fields }, secrets) as LogFields;
      let line: string;
      try {
        line = JSON.stringify({
          time: new Date().toISOString(),
          level,
          msg: redact(msg, secrets),
          ...record,
        });
      } catch {
        line = JSON.stringify({ time: new Date().toISOString(), level, msg: String(redact(msg, secrets)) });
      }
      write(`${line}\n`);
    };
    return {
      debug: (msg, fields) => emit('debug', msg, fields),
      info: (msg, fields) => emit('info', msg, fields),
      warn: (msg, fields) => emit('warn', msg, fields),
      error: (msg, fields) => emit('error', msg, fields),
      child: (fields) => make({ ...bound, ...fields }),
    };
  };
  return make({});
}

/** A logger that drops everything (tests, library use without logs). */
export const silentLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
  child() {
    return silentLogger;
  },
};
