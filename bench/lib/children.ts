/** Child processes of the benchmark: every one is registered so that it is stopped on exit, error or Ctrl-C. */
import { type ChildProcess, type SpawnOptions, spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { createServer } from 'node:net';
import { createInterface } from 'node:readline';

const live = new Set<ChildProcess>();

/**
 * Spawns a registered child. With `logFile`, its stderr (and its stdout unless `captureStdout`) are written by the
 * child straight to that file, so that a chatty child does not make this process spend CPU relaying its output.
 */
export function spawnChild(
  command: string,
  args: readonly string[],
  opts: SpawnOptions & { logFile?: string; captureStdout?: boolean } = {},
): ChildProcess {
  const { logFile, captureStdout = true, ...spawnOpts } = opts;
  const fd = logFile ? openSync(logFile, 'a') : undefined;
  const child = spawn(command, args, {
    ...spawnOpts,
    stdio: ['ignore', captureStdout || fd === undefined ? 'pipe' : fd, fd ?? 'pipe'],
  });
  if (fd !== undefined) closeSync(fd);
  live.add(child);
  child.once('exit', () => live.delete(child));
  child.once('error', () => live.delete(child));
  return child;
}

/** Resolves with the first stdout line that parses as JSON (a server's `{"url": …}` announcement). */
export function firstJsonLine<T>(child: ChildProcess, name: string, timeoutMs = 30_000): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const rl = createInterface({ input: child.stdout as NodeJS.ReadableStream });
    const timer = setTimeout(
      () => reject(new Error(`${name} did not announce itself within ${timeoutMs} ms`)),
      timeoutMs,
    );
    rl.on('line', (line) => {
      try {
        const value = JSON.parse(line) as T;
        clearTimeout(timer);
        rl.close();
        child.stdout?.resume();
        resolve(value);
      } catch {
        // not the announcement; keep reading
      }
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited (code ${code}, signal ${signal}) before announcing itself`));
    });
  });
}

/** Runs a registered child to completion and returns its stdout; rejects on a spawn error. */
export function runToEnd(
  command: string,
  args: readonly string[],
  opts: SpawnOptions = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawnChild(command, args, opts);
    let stdout = '';
    let stderr = '';
    child.stdout?.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
    });
    child.stderr?.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
    });
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Stops one child: SIGTERM, then SIGKILL after `graceMs`. */
export function stopChild(child: ChildProcess, graceMs = 5000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise<void>((resolve) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
    }, graceMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/** Stops every registered child that is still running. */
export async function stopAll(graceMs = 5000): Promise<void> {
  await Promise.all([...live].map((c) => stopChild(c, graceMs)));
}

/** Last resort on process exit: synchronous SIGKILL of whatever is left. */
export function killAllNow(): void {
  for (const child of live) {
    try {
      child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
}

/**
 * Kills every child when this process exits and stops them gracefully on SIGINT/SIGTERM (exit code 130).
 * Returns a function that tells whether a signal arrived, so the caller can report an interrupted run as such.
 */
export function stopChildrenOnExitAndSignals(): () => boolean {
  let interrupted = false;
  process.on('exit', killAllNow);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      interrupted = true;
      console.error(`\n${signal}: stopping children…`);
      void stopAll(5000).finally(() => process.exit(130));
    });
  }
  return () => interrupted;
}

export const sleep = (ms: number): Promise<void> => new Promise<void>((r) => setTimeout(r, ms));

/** A TCP port on 127.0.0.1 that was free a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.once('error', rej);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => res(port));
    });
  });
}

/** `--node-flags` as given on the command line ("--a --b=1") → the argv entries placed before the child's script. */
export function nodeFlagArgs(value: string): string[] {
  return value.split(/\s+/).filter((f) => f !== '');
}
