/**
 * The signed-in session on disk: `session.json` in the CLI's configuration directory (`$OCG_CONFIG_DIR`, else
 * `$XDG_CONFIG_HOME/ocg`, else `~/.config/ocg`).
 *
 * It holds a refresh token — a credential that outlives the access token by weeks — so:
 * - the directory is 0700 and the file 0600, owned by the user; a file other users could read, or one owned by
 *   someone else, is refused rather than used (`ERR_SESSION_INSECURE`), as ssh does with private keys;
 * - every write goes to a fresh temporary file (created exclusively, 0600, fsynced) renamed over the old one, so a
 *   crash or a concurrent reader never sees half a file and a rotated refresh token is never lost half-written;
 * - refreshing happens under a lock file (`session.lock`), because the gateway rotates refresh tokens on every use
 *   and treats a second use of a rotated one as theft (it revokes the whole session). Claude Code may run several
 *   `ocg token` at once; only one of them refreshes, the others wait and read its result.
 */
import { randomBytes } from 'node:crypto';
import { constants, type Stats } from 'node:fs';
import { chmod, mkdir, open, readFile, rename, stat, unlink } from 'node:fs/promises';
import { homedir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { CliError } from './errors.ts';

export const SESSION_FILE = 'session.json';
export const LOCK_FILE = 'session.lock';
const SESSION_VERSION = 1;

/** What `ocg login` stores. Field names are snake_case like the OAuth messages they come from. */
export interface StoredSession {
  version: 1;
  /** The base URL the user signed in to, normalised (no trailing slash). */
  gateway_url: string;
  /** The `issuer` of the gateway's RFC 8414 metadata. */
  issuer: string;
  token_endpoint: string;
  /** Null when the gateway advertises no RFC 7009 endpoint (logout then only deletes the file). */
  revocation_endpoint: string | null;
  access_token: string;
  token_type: string;
  /** ISO 8601; null when the gateway sent no `expires_in` and the token carries no `exp`. */
  expires_at: string | null;
  /** Null when the gateway issued none: the session ends with the access token. */
  refresh_token: string | null;
  /** When the current access token was obtained (ISO 8601). */
  obtained_at: string;
}

type Env = Readonly<Record<string, string | undefined>>;

/** The configuration directory for this environment (not created). */
export function configDir(env: Env): string {
  if (env.OCG_CONFIG_DIR) return resolve(env.OCG_CONFIG_DIR);
  // The XDG spec says a relative XDG_CONFIG_HOME is invalid and must be ignored.
  if (env.XDG_CONFIG_HOME && isAbsolute(env.XDG_CONFIG_HOME)) return join(env.XDG_CONFIG_HOME, 'ocg');
  return join(env.HOME || homedir(), '.config', 'ocg');
}

const CHECK_MODES = process.platform !== 'win32';

function describeFsError(err: unknown): string {
  const code = (err as NodeJS.ErrnoException)?.code;
  switch (code) {
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'EROFS':
      return 'read-only file system';
    case 'ENOTDIR':
      return 'a part of the path is not a directory';
    case 'EEXIST':
      return 'a file is in the way';
    case 'ENOSPC':
      return 'no space left on the device';
    case 'EISDIR':
      return 'it is a directory';
    default:
      return code ?? 'unknown error';
  }
}

function fsError(action: string, path: string, err: unknown): CliError {
  return new CliError('ERR_PERMISSION', `cannot ${action} ${path}: ${describeFsError(err)}`, { cause: err });
}

function checkOwnerAndMode(path: string, st: Stats, what: 'file' | 'directory'): void {
  if (!CHECK_MODES) return;
  const uid = process.getuid?.();
  if (uid !== undefined && st.uid !== uid) {
    throw new CliError(
      'ERR_SESSION_INSECURE',
      `the session ${what} ${path} belongs to another user (uid ${st.uid}); refusing to use it`,
    );
  }
  if (what === 'file' && (st.mode & 0o077) !== 0) {
    const mode = (st.mode & 0o777).toString(8).padStart(4, '0');
    throw new CliError(
      'ERR_SESSION_INSECURE',
      `the session file ${path} is accessible to other users (mode ${mode}); its tokens may have leaked. ` +
        `Run \`ocg logout\` and sign in again, or \`chmod 600 ${path}\` if you are sure it did not leak`,
    );
  }
}

function corrupt(path: string, why: string): CliError {
  return new CliError(
    'ERR_SESSION_CORRUPT',
    `the session file ${path} is corrupted (${why}): run \`ocg login <gateway-url>\` to replace it ` +
      'or `ocg logout` to delete it',
  );
}

function isNullableString(v: unknown): v is string | null {
  return v === null || typeof v === 'string';
}

/** Checks the parsed file against `StoredSession`; throws `ERR_SESSION_CORRUPT` naming the first bad field. */
export function validateSession(path: string, value: unknown): StoredSession {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw corrupt(path, 'not an object');
  const s = value as Record<string, unknown>;
  if (s.version !== SESSION_VERSION) throw corrupt(path, `unknown version ${JSON.stringify(s.version)}`);
  for (const field of [
    'gateway_url',
    'issuer',
    'token_endpoint',
    'access_token',
    'token_type',
    'obtained_at',
  ]) {
    if (typeof s[field] !== 'string' || s[field] === '') throw corrupt(path, `"${field}" is missing`);
  }
  for (const field of ['revocation_endpoint', 'expires_at', 'refresh_token']) {
    if (!isNullableString(s[field])) throw corrupt(path, `"${field}" is not a string`);
  }
  for (const field of ['gateway_url', 'token_endpoint', 'revocation_endpoint']) {
    const v = s[field];
    if (typeof v === 'string' && !URL.canParse(v)) throw corrupt(path, `"${field}" is not a URL`);
  }
  if (typeof s.expires_at === 'string' && Number.isNaN(Date.parse(s.expires_at))) {
    throw corrupt(path, '"expires_at" is not a date');
  }
  return s as unknown as StoredSession;
}

export interface SessionStore {
  readonly dir: string;
  readonly path: string;
  /**
   * The stored session, or null when there is none. `allowInsecure` skips the owner and mode checks: for
   * `ocg logout`, which revokes and deletes a file that may have leaked.
   */
  load(options?: { allowInsecure?: boolean }): Promise<StoredSession | null>;
  /** Atomically replaces the stored session (creating the directory, 0700, if needed). */
  save(session: StoredSession): Promise<void>;
  /** Deletes the stored session; true when there was one. */
  remove(): Promise<boolean>;
  /** Creates the directory (0700) and checks it can be written, before a long sign-in that would end in a write. */
  ensureWritable(): Promise<void>;
  /** Runs `fn` holding the session lock (other `ocg` processes wait). */
  withLock<T>(fn: () => Promise<T>): Promise<T>;
}

export interface SessionStoreOptions {
  /** How long to wait for another process's lock before `ERR_LOCKED`. Default 30 s. */
  lockTimeoutMs?: number;
  /** A lock older than this is considered abandoned (its holder crashed). Default 60 s. */
  staleLockMs?: number;
}

export function createSessionStore(dir: string, options: SessionStoreOptions = {}): SessionStore {
  const path = join(dir, SESSION_FILE);
  const lockPath = join(dir, LOCK_FILE);
  const lockTimeoutMs = options.lockTimeoutMs ?? 30_000;
  const staleLockMs = options.staleLockMs ?? 60_000;

  async function ensureDir(): Promise<void> {
    try {
      await mkdir(dir, { recursive: true, mode: 0o700 });
    } catch (err) {
      throw fsError('create the directory', dir, err);
    }
    let st: Stats;
    try {
      st = await stat(dir);
    } catch (err) {
      throw fsError('read', dir, err);
    }
    if (!st.isDirectory()) throw new CliError('ERR_PERMISSION', `cannot use ${dir}: it is not a directory`);
    checkOwnerAndMode(dir, st, 'directory');
    if (CHECK_MODES && (st.mode & 0o077) !== 0) {
      try {
        await chmod(dir, 0o700);
      } catch (err) {
        throw fsError('restrict the permissions of', dir, err);
      }
    }
  }

  async function load(loadOptions: { allowInsecure?: boolean } = {}): Promise<StoredSession | null> {
    let handle: Awaited<ReturnType<typeof open>>;
    try {
      handle = await open(path, constants.O_RDONLY);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw fsError('read', path, err);
    }
    let text: string;
    try {
      const st = await handle.stat();
      if (!st.isFile()) throw corrupt(path, 'not a regular file');
      if (!loadOptions.allowInsecure) checkOwnerAndMode(path, st, 'file');
      text = await handle.readFile('utf8');
    } catch (err) {
      if (err instanceof CliError) throw err;
      throw fsError('read', path, err);
    } finally {
      await handle.close();
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw corrupt(path, text.trim() === '' ? 'empty' : 'not JSON');
    }
    return validateSession(path, parsed);
  }

  async function save(session: StoredSession): Promise<void> {
    await ensureDir();
    const tmp = join(dir, `.${SESSION_FILE}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
    const text = `${JSON.stringify(session, null, 2)}\n`;
    let written = false;
    try {
      const handle = await open(tmp, 'wx', 0o600);
      try {
        await handle.writeFile(text, 'utf8');
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(tmp, path);
      written = true;
    } catch (err) {
      throw fsError('write', path, err);
    } finally {
      if (!written) await unlink(tmp).catch(() => {});
    }
    // Make the rename itself durable; not every platform can fsync a directory.
    await open(dir, constants.O_RDONLY)
      .then(async (d) => {
        await d.sync().catch(() => {});
        await d.close();
      })
      .catch(() => {});
  }

  async function remove(): Promise<boolean> {
    try {
      await unlink(path);
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw fsError('delete', path, err);
    }
  }

  async function ensureWritable(): Promise<void> {
    await ensureDir();
    const probe = join(dir, `.probe.${process.pid}.${randomBytes(6).toString('hex')}`);
    try {
      const handle = await open(probe, 'wx', 0o600);
      await handle.close();
    } catch (err) {
      throw fsError('write in', dir, err);
    } finally {
      await unlink(probe).catch(() => {});
    }
  }

  /** A lock is abandoned when it is old, when its process is gone, or when it stayed unreadable for 2 s. */
  async function lockIsStale(): Promise<boolean> {
    let st: Stats;
    let text: string;
    try {
      st = await stat(lockPath);
      text = await readFile(lockPath, 'utf8');
    } catch {
      return false; // released since our attempt: just try again
    }
    const age = Date.now() - st.mtimeMs;
    if (age > staleLockMs) return true;
    let pid = Number.NaN;
    try {
      pid = Number((JSON.parse(text) as { pid?: unknown }).pid);
    } catch {
      // Being written right now, or its writer crashed before writing.
    }
    if (!Number.isInteger(pid) || pid <= 0) return age > 2000;
    try {
      process.kill(pid, 0);
      return false;
    } catch (err) {
      return (err as NodeJS.ErrnoException).code === 'ESRCH';
    }
  }

  async function withLock<T>(fn: () => Promise<T>): Promise<T> {
    await ensureDir();
    const token = `${process.pid}.${randomBytes(8).toString('hex')}`;
    const deadline = Date.now() + lockTimeoutMs;
    for (;;) {
      try {
        const handle = await open(lockPath, 'wx', 0o600);
        try {
          await handle.writeFile(JSON.stringify({ pid: process.pid, token, at: new Date().toISOString() }));
        } finally {
          await handle.close();
        }
        break;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST')
          throw fsError('create the lock file', lockPath, err);
      }
      if (await lockIsStale()) {
        await unlink(lockPath).catch(() => {});
        continue;
      }
      if (Date.now() > deadline) {
        throw new CliError(
          'ERR_LOCKED',
          `another ocg process has held ${lockPath} for too long; if none is running, delete that file`,
        );
      }
      await new Promise((r) => setTimeout(r, 25 + Math.random() * 50));
    }
    try {
      return await fn();
    } finally {
      // Release only our own lock (a stale-lock takeover by another process must not be undone by us).
      const text = await readFile(lockPath, 'utf8').catch(() => '');
      if (text.includes(token)) await unlink(lockPath).catch(() => {});
    }
  }

  return { dir, path, load, save, remove, ensureWritable, withLock };
}
