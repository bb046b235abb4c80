/**
 * Harness for end-to-end tests with the real Claude Code CLI (`@anthropic-ai/claude-code`, a root devDependency):
 * a scratch HOME per test, a clean environment, `claude -p` runs, an interactive terminal driven through a
 * pseudo-terminal, and the managed-settings file placed in a private mount namespace — never in the machine's /etc.
 * What the CLI does and why each piece is needed: docs/claude-code-client.md.
 */
import { type ChildProcessWithoutNullStreams, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '..', '..');

/** The CLI binary npm linked for the pinned version. */
export const CLAUDE_BIN = path.join(root, 'node_modules', '.bin', 'claude');
/** Runs a command on a pty and relays it over pipes (python3's pty module: no native Node addon needed). */
export const PTY_RUN = path.join(root, 'scripts', 'claude-code', 'pty-run.py');

export const TERMINAL_COLS = 160;
export const TERMINAL_ROWS = 45;

// ---------------------------------------------------------------------------------------------------------------
// Prerequisites
// ---------------------------------------------------------------------------------------------------------------

export interface Prerequisites {
  /** `claude --version` output, or null when the binary does not run. */
  version: string | null;
  /** Why the CLI cannot be run at all (binary missing), or null. */
  cliProblem: string | null;
  /** Why the interactive and managed-settings tests cannot run (no python3, no mount namespace), or null. */
  namespaceProblem: string | null;
}

let cached: Prerequisites | undefined;

/** Probes once per process: the binary runs, python3 exists, and a private mount namespace with an /etc overlay works. */
export function prerequisites(): Prerequisites {
  if (cached) return cached;
  let version: string | null = null;
  let cliProblem: string | null = null;
  try {
    version = execFileSync(CLAUDE_BIN, ['--version'], {
      encoding: 'utf8',
      timeout: 30_000,
      env: baseEnv(),
    }).trim();
  } catch (err) {
    cliProblem = `the Claude Code CLI does not run (${CLAUDE_BIN}): ${(err as Error).message.split('\n')[0]}`;
  }
  let namespaceProblem: string | null = null;
  try {
    execFileSync('python3', ['--version'], { stdio: 'ignore' });
  } catch {
    namespaceProblem = 'python3 is missing (the pty driver needs it)';
  }
  if (namespaceProblem === null) {
    const probe = mkdtempSync(path.join(tmpdir(), 'ocg-claude-probe-'));
    try {
      mkdirSync(path.join(probe, 'claude-code'));
      writeFileSync(path.join(probe, 'claude-code', 'probe'), 'ok');
      const out = execFileSync(...namespaceCommand(probe, ['cat', '/etc/claude-code/probe']), {
        encoding: 'utf8',
        timeout: 10_000,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      if (out !== 'ok') namespaceProblem = `the /etc overlay probe read ${JSON.stringify(out)}`;
    } catch (err) {
      namespaceProblem = `no private mount namespace with an /etc overlay (needs root or user namespaces): ${
        (err as Error).message.split('\n')[0]
      }`;
    } finally {
      rmSync(probe, { recursive: true, force: true });
    }
  }
  cached = { version, cliProblem, namespaceProblem };
  return cached;
}

/**
 * Whether a test needing something missing is skipped (loudly) or fails: CI must never skip these, a
 * developer's machine without root may.
 */
export function skipReason(problem: string | null): string | null {
  if (problem === null) return null;
  if (process.env.CI === 'true' || process.env.CI === '1') {
    throw new Error(`Claude Code end-to-end tests cannot run in CI: ${problem}`);
  }
  console.warn(`\n!! Claude Code end-to-end tests SKIPPED: ${problem}\n`);
  return problem;
}

// ---------------------------------------------------------------------------------------------------------------
// Scratch directories and environment
// ---------------------------------------------------------------------------------------------------------------

/**
 * The argv that runs `command` in a private mount namespace where `/etc` is a read-only overlay of `etcTop` on the
 * real `/etc`: `<etcTop>/claude-code/managed-settings.json` appears as `/etc/claude-code/managed-settings.json` to
 * that process tree only. Nothing is written to the real /etc (no upper layer) and the mount ends with the process.
 */
export function namespaceCommand(etcTop: string, command: string[]): [string, string[]] {
  const unshare = process.getuid?.() === 0 ? ['--mount'] : ['--user', '--map-root-user', '--mount'];
  const script = 'mount -t overlay overlay -o "lowerdir=$0:/etc" /etc && exec "$@"';
  return ['unshare', [...unshare, '--propagation', 'private', '--', 'sh', '-c', script, etcTop, ...command]];
}

/** The variables every run gets: nothing inherited from the test process but PATH, so no ANTHROPIC_* leaks in. */
function baseEnv(): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH ?? '/usr/bin:/bin', LANG: 'C.UTF-8' };
}

export interface ClaudeScratch {
  dir: string;
  /** HOME of the CLI. */
  home: string;
  /** The working directory (trusted in the pre-seeded ~/.claude.json). */
  work: string;
  /** The overlay layer placed over /etc in the mount namespace. */
  etcTop: string;
  /** Writes `/etc/claude-code/managed-settings.json` as the namespaced CLI will see it. */
  setManagedSettings(settings: Record<string, unknown> | null): void;
  /** Whether a managed-settings file was set (runs then go through the namespace). */
  readonly managed: boolean;
  /** `~/.claude/.credentials.json`, parsed, or null. */
  credentials(): Record<string, unknown> | null;
  /** The variables of a run: base + HOME + TERM + the scenario's. */
  env(extra?: Record<string, string>): NodeJS.ProcessEnv;
  remove(): void;
}

/**
 * A fresh HOME with onboarding done and the work directory trusted, so screens unrelated to the gateway (theme,
 * security notes, folder trust) never appear; plus an empty /etc overlay layer.
 */
export function createClaudeScratch(): ClaudeScratch {
  const dir = mkdtempSync(path.join(tmpdir(), 'ocg-claude-'));
  const home = path.join(dir, 'home');
  const work = path.join(dir, 'work');
  const etcTop = path.join(dir, 'etc-top');
  mkdirSync(path.join(home, '.claude'), { recursive: true });
  mkdirSync(work);
  mkdirSync(path.join(etcTop, 'claude-code'), { recursive: true });
  writeFileSync(
    path.join(home, '.claude.json'),
    JSON.stringify({ hasCompletedOnboarding: true, projects: { [work]: { hasTrustDialogAccepted: true } } }),
  );
  writeFileSync(path.join(home, '.claude', 'settings.json'), JSON.stringify({ theme: 'dark' }));
  let managed = false;
  return {
    dir,
    home,
    work,
    etcTop,
    get managed() {
      return managed;
    },
    setManagedSettings(settings) {
      const file = path.join(etcTop, 'claude-code', 'managed-settings.json');
      if (settings === null) {
        rmSync(file, { force: true });
        managed = false;
      } else {
        writeFileSync(file, JSON.stringify(settings, null, 2));
        managed = true;
      }
    },
    credentials() {
      const file = path.join(home, '.claude', '.credentials.json');
      return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>) : null;
    },
    env(extra = {}) {
      return {
        ...baseEnv(),
        HOME: home,
        TERM: 'xterm-256color',
        // Keep the CLI on loopback: no update checks, no Anthropic telemetry, no error reporting.
        CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
        DISABLE_AUTOUPDATER: '1',
        ...extra,
      };
    },
    remove() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function commandFor(scratch: ClaudeScratch, args: string[]): [string, string[]] {
  return scratch.managed ? namespaceCommand(scratch.etcTop, [CLAUDE_BIN, ...args]) : [CLAUDE_BIN, args];
}

// ---------------------------------------------------------------------------------------------------------------
// Non-interactive runs
// ---------------------------------------------------------------------------------------------------------------

export interface ClaudeRun {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

export interface RunOptions {
  env?: Record<string, string>;
  timeoutMs?: number;
}

/** `claude <args>` with the scratch HOME (inside the namespace when managed settings are set), stdin closed. */
export function runClaude(scratch: ClaudeScratch, args: string[], o: RunOptions = {}): Promise<ClaudeRun> {
  const [cmd, argv] = commandFor(scratch, args);
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, argv, {
      cwd: scratch.work,
      env: scratch.env(o.env),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => {
      stdout += c.toString('utf8');
    });
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString('utf8');
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(
        new Error(
          `claude ${args.join(' ')} did not finish in ${o.timeoutMs ?? 60_000} ms\n${stdout}\n${stderr}`,
        ),
      );
    }, o.timeoutMs ?? 60_000);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, ms: Date.now() - started });
    });
  });
}

// ---------------------------------------------------------------------------------------------------------------
// The screen model
// ---------------------------------------------------------------------------------------------------------------

/**
 * Enough of a VT100/xterm screen to read what the CLI draws: printable text, cursor movement (CUU/CUD/CUF/CUB,
 * CNL/CPL, CHA, CUP, VPA), erase (ED, EL, ECH), insert/delete (ICH, DCH, IL, DL), scrolling at the bottom margin,
 * save/restore, the alternate screen (treated as a clear). Colours, modes and OSC strings are ignored.
 */
export class Screen {
  readonly cols: number;
  readonly rows: number;
  private grid: string[][];
  private x = 0;
  private y = 0;
  private saved: [number, number] = [0, 0];
  private wrapPending = false;
  private pending = '';

  constructor(cols = TERMINAL_COLS, rows = TERMINAL_ROWS) {
    this.cols = cols;
    this.rows = rows;
    this.grid = Array.from({ length: rows }, () => this.blankRow());
  }

  /** The rendered text, one line per row, trailing blanks trimmed. */
  text(): string {
    return this.grid.map((r) => r.join('').trimEnd()).join('\n');
  }

  write(data: string): void {
    const input = this.pending + data;
    this.pending = '';
    let i = 0;
    while (i < input.length) {
      const ch = input[i] as string;
      if (ch === '\x1b') {
        const consumed = this.escape(input, i);
        if (consumed === 0) {
          this.pending = input.slice(i); // an incomplete sequence: wait for the rest
          return;
        }
        i += consumed;
        continue;
      }
      const cp = input.codePointAt(i) as number;
      const len = cp > 0xffff ? 2 : 1;
      this.char(String.fromCodePoint(cp), cp);
      i += len;
    }
  }

  private blankRow(): string[] {
    return Array.from({ length: this.cols }, () => ' ');
  }

  private clampCursor(): void {
    this.x = Math.max(0, Math.min(this.cols - 1, this.x));
    this.y = Math.max(0, Math.min(this.rows - 1, this.y));
    this.wrapPending = false;
  }

  private lineFeed(): void {
    if (this.y === this.rows - 1) {
      this.grid.shift();
      this.grid.push(this.blankRow());
    } else this.y++;
  }

  private char(ch: string, cp: number): void {
    if (cp < 0x20 || cp === 0x7f) {
      if (ch === '\r') {
        this.x = 0;
        this.wrapPending = false;
      } else if (ch === '\n' || ch === '\v' || ch === '\f') {
        this.lineFeed();
        this.wrapPending = false;
      } else if (ch === '\b') {
        this.x = Math.max(0, this.x - 1);
        this.wrapPending = false;
      } else if (ch === '\t') {
        this.x = Math.min(this.cols - 1, (Math.floor(this.x / 8) + 1) * 8);
      }
      return;
    }
    if (this.wrapPending) {
      this.x = 0;
      this.lineFeed();
      this.wrapPending = false;
    }
    (this.grid[this.y] as string[])[this.x] = ch;
    if (this.x === this.cols - 1) this.wrapPending = true;
    else this.x++;
  }

  /** Handles the escape sequence at `input[i]`; returns how many characters it used, 0 when incomplete. */
  private escape(input: string, i: number): number {
    const next = input[i + 1];
    if (next === undefined) return 0;
    if (next === '[') {
      let j = i + 2;
      while (j < input.length && !/[\x40-\x7e]/.test(input[j] as string)) j++;
      if (j >= input.length) return 0;
      this.csi(input.slice(i + 2, j), input[j] as string);
      return j - i + 1;
    }
    if (next === ']' || next === 'P' || next === '_' || next === '^') {
      // OSC / DCS / APC / PM: up to BEL or ST.
      for (let j = i + 2; j < input.length; j++) {
        if (input[j] === '\x07') return j - i + 1;
        if (input[j] === '\x1b' && input[j + 1] === '\\') return j - i + 2;
      }
      return 0;
    }
    if (next === '(' || next === ')' || next === '*' || next === '+' || next === '#') {
      return input[i + 2] === undefined ? 0 : 3;
    }
    if (next === '7') this.saved = [this.x, this.y];
    else if (next === '8') [this.x, this.y] = this.saved;
    else if (next === 'M') this.y = Math.max(0, this.y - 1);
    else if (next === 'D') this.lineFeed();
    else if (next === 'E') {
      this.x = 0;
      this.lineFeed();
    } else if (next === 'c') this.clear();
    return 2;
  }

  private clear(): void {
    this.grid = Array.from({ length: this.rows }, () => this.blankRow());
    this.x = 0;
    this.y = 0;
  }

  private csi(paramText: string, final: string): void {
    const priv = /^[?<>=]/.test(paramText) ? (paramText[0] as string) : '';
    const params = (priv ? paramText.slice(1) : paramText).split(';').map((p) => Number.parseInt(p, 10));
    const n = (k: number, dflt = 1) => {
      const v = params[k];
      return v === undefined || Number.isNaN(v) || v === 0 ? dflt : v;
    };
    const row = this.grid[this.y] as string[];
    switch (priv ? `${priv}${final}` : final) {
      case 'A':
        this.y -= n(0);
        break;
      case 'B':
      case 'e':
        this.y += n(0);
        break;
      case 'C':
      case 'a':
        this.x += n(0);
        break;
      case 'D':
        this.x -= n(0);
        break;
      case 'E':
        this.y += n(0);
        this.x = 0;
        break;
      case 'F':
        this.y -= n(0);
        this.x = 0;
        break;
      case 'G':
      case '`':
        this.x = n(0) - 1;
        break;
      case 'H':
      case 'f':
        this.y = n(0) - 1;
        this.x = n(1) - 1;
        break;
      case 'd':
        this.y = n(0) - 1;
        break;
      case 'J': {
        const mode = params[0] || 0;
        if (mode === 2 || mode === 3) {
          this.grid = Array.from({ length: this.rows }, () => this.blankRow());
        } else if (mode === 0) {
          row.fill(' ', this.x);
          for (let r = this.y + 1; r < this.rows; r++) this.grid[r] = this.blankRow();
        } else {
          row.fill(' ', 0, this.x + 1);
          for (let r = 0; r < this.y; r++) this.grid[r] = this.blankRow();
        }
        return;
      }
      case 'K': {
        const mode = params[0] || 0;
        if (mode === 0) row.fill(' ', this.x);
        else if (mode === 1) row.fill(' ', 0, this.x + 1);
        else row.fill(' ');
        return;
      }
      case 'X':
        row.fill(' ', this.x, Math.min(this.cols, this.x + n(0)));
        return;
      case '@':
        row.splice(this.x, 0, ...Array.from({ length: n(0) }, () => ' '));
        row.length = this.cols;
        return;
      case 'P':
        row.splice(this.x, n(0));
        while (row.length < this.cols) row.push(' ');
        return;
      case 'L':
        for (let k = 0; k < n(0); k++) {
          this.grid.splice(this.y, 0, this.blankRow());
          this.grid.pop();
        }
        return;
      case 'M':
        for (let k = 0; k < n(0); k++) {
          this.grid.splice(this.y, 1);
          this.grid.push(this.blankRow());
        }
        return;
      case 'S':
        for (let k = 0; k < n(0); k++) {
          this.grid.shift();
          this.grid.push(this.blankRow());
        }
        return;
      case 'T':
        for (let k = 0; k < n(0); k++) {
          this.grid.pop();
          this.grid.unshift(this.blankRow());
        }
        return;
      case 's':
        this.saved = [this.x, this.y];
        return;
      case 'u':
        [this.x, this.y] = this.saved;
        break;
      case '?h':
      case '?l':
        if (params.includes(1049) || params.includes(47) || params.includes(1047)) this.clear();
        return;
      default:
        return; // SGR, modes, queries: nothing to draw
    }
    this.clampCursor();
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The interactive terminal
// ---------------------------------------------------------------------------------------------------------------

export const KEYS = {
  enter: '\r',
  up: '\x1b[A',
  down: '\x1b[B',
  escape: '\x1b',
  ctrlC: '\x03',
  ctrlD: '\x04',
} as const;

/** The marker the CLI draws before the selected entry of a menu. */
const SELECTED = '❯';

export interface ClaudeTerminal {
  /** The current screen text. */
  screen(): string;
  /** Everything the CLI wrote, raw. */
  readonly output: string;
  /** Resolves with the first match of `pattern` on the screen; rejects (with the screen) after `timeoutMs`. */
  waitForText(pattern: RegExp | string, timeoutMs?: number): Promise<RegExpMatchArray>;
  /** Types text (as keystrokes, no Enter). */
  type(text: string): Promise<void>;
  press(key: keyof typeof KEYS, times?: number): Promise<void>;
  /**
   * Presses Enter on the screen that shows `text`, again if that screen is still there 3 s later (a key sent
   * while a screen is mounting can be lost).
   */
  confirm(text: string, timeoutMs?: number): Promise<void>;
  /** Moves a menu's selection (`❯`) to the entry containing `label` and confirms it (as `confirm`). */
  choose(label: string, timeoutMs?: number): Promise<void>;
  /** Resolves with the exit status once the CLI has ended. */
  exited(timeoutMs?: number): Promise<number | null>;
  /** Hangs up the terminal (SIGHUP to the CLI), then kills what is left. */
  close(): Promise<void>;
}

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `predicate` until true; the error carries `state()` (e.g. the terminal's screen) to show where it stuck. */
export async function until(predicate: () => boolean, timeoutMs: number, state: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms\n--- screen ---\n${state()}`);
    await pause(100);
  }
}

/**
 * Starts `claude <args>` on a pseudo-terminal (inside the namespace when managed settings are set). The screen is
 * TERMINAL_COLS × TERMINAL_ROWS.
 */
export function startClaudeTerminal(
  scratch: ClaudeScratch,
  args: string[] = [],
  o: { env?: Record<string, string> } = {},
): ClaudeTerminal {
  const [cmd, argv] = commandFor(scratch, args);
  const child: ChildProcessWithoutNullStreams = spawn(
    'python3',
    [PTY_RUN, String(TERMINAL_COLS), String(TERMINAL_ROWS), '--', cmd, ...argv],
    { cwd: scratch.work, env: scratch.env(o.env) },
  );
  const screen = new Screen();
  let output = '';
  let lastOutputAt = Date.now();
  let stderr = '';
  let status: number | null | undefined;
  const exitWaiters: Array<() => void> = [];
  const decoder = new TextDecoder('utf-8');
  child.stdout.on('data', (c: Buffer) => {
    const text = decoder.decode(c, { stream: true });
    output += text;
    lastOutputAt = Date.now();
    screen.write(text);
  });
  child.stderr.on('data', (c: Buffer) => {
    stderr += c.toString('utf8');
  });
  child.on('close', (code) => {
    status = code;
    for (const w of exitWaiters.splice(0)) w();
  });

  const describe = () =>
    `--- screen ---\n${screen.text().replace(/\n+$/, '')}\n--- stderr ---\n${stderr.trim()}`;

  const waitForText = async (pattern: RegExp | string, timeoutMs = 20_000) => {
    const re =
      typeof pattern === 'string' ? new RegExp(pattern.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')) : pattern;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const m = screen.text().match(re);
      if (m) return m;
      if (status !== undefined)
        throw new Error(`the CLI exited (${status}) before showing ${re}\n${describe()}`);
      if (Date.now() > deadline)
        throw new Error(`timed out after ${timeoutMs} ms waiting for ${re}\n${describe()}`);
      await pause(50);
    }
  };

  /**
   * Waits until the CLI has drawn nothing for `quietMs`: a dialog ignores keys until it has mounted, and a key
   * sent while the previous screen is being replaced is lost.
   */
  const settle = async (quietMs = 400, timeoutMs = 5000) => {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() - lastOutputAt < quietMs && Date.now() < deadline) await pause(50);
  };

  const send = async (data: string) => {
    child.stdin.write(data);
    await pause(150); // the CLI reads keys in batches; one key at a time keeps menus in step
  };

  const enterUntilGone = async (text: string) => {
    for (let attempt = 0; attempt < 3; attempt++) {
      await settle();
      await send(KEYS.enter);
      const giveUpAt = Date.now() + 3000;
      while (Date.now() < giveUpAt) {
        if (!screen.text().includes(text)) return;
        if (status !== undefined) return;
        await pause(50);
      }
    }
    throw new Error(`"${text}" is still on the screen after pressing Enter three times\n${describe()}`);
  };

  return {
    screen: () => screen.text(),
    get output() {
      return output;
    },
    waitForText,
    type: async (text) => {
      await settle();
      await send(text);
    },
    press: async (key, times = 1) => {
      for (let k = 0; k < times; k++) {
        await settle();
        await send(KEYS[key]);
      }
    },
    choose: async (label, timeoutMs = 10_000) => {
      await waitForText(label, timeoutMs);
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        await settle();
        const lines = screen.text().split('\n');
        const target = lines.findIndex((l) => l.includes(label));
        // The selection marker nearest the target line belongs to the same menu.
        let selected = -1;
        for (let k = 0; k < lines.length; k++) {
          if (
            lines[k]?.includes(SELECTED) &&
            (selected < 0 || Math.abs(k - target) < Math.abs(selected - target))
          ) {
            selected = k;
          }
        }
        if (target >= 0 && selected === target) break;
        if (Date.now() > deadline) throw new Error(`could not select "${label}"\n${describe()}`);
        if (target >= 0 && selected >= 0) await send(target > selected ? KEYS.down : KEYS.up);
        else await pause(50);
      }
      await enterUntilGone(label);
    },
    confirm: async (text, timeoutMs = 10_000) => {
      await waitForText(text, timeoutMs);
      await enterUntilGone(text);
    },
    exited: (timeoutMs = 20_000) =>
      new Promise((resolve, reject) => {
        if (status !== undefined) return resolve(status);
        const timer = setTimeout(
          () => reject(new Error(`the CLI did not exit in ${timeoutMs} ms\n${describe()}`)),
          timeoutMs,
        );
        exitWaiters.push(() => {
          clearTimeout(timer);
          resolve(status ?? null);
        });
      }),
    close: async () => {
      if (status !== undefined) return;
      const done = new Promise<void>((resolve) => exitWaiters.push(resolve));
      child.stdin.end(); // pty-run.py hangs up the terminal: the CLI gets SIGHUP
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await done;
      clearTimeout(timer);
    },
  };
}

// ---------------------------------------------------------------------------------------------------------------
// The tap: a recording reverse proxy in front of the gateway
// ---------------------------------------------------------------------------------------------------------------

/** One exchange the tap relayed. */
export interface TapExchange {
  method: string;
  /** Path and query as the client sent them. */
  path: string;
  status: number;
  requestHeaders: IncomingHttpHeaders;
  responseHeaders: IncomingHttpHeaders;
  /** Form or JSON request bodies of at most 4 KiB (sign-in forms); larger bodies are left out. */
  body: string | null;
}

export interface Tap {
  /** The tap's URL: configure it as the gateway's public URL (`auth.issuer`), so every client goes through it. */
  url: string;
  exchanges: TapExchange[];
  /** Where to forward (set once the gateway listens). */
  target: string;
  /** `METHOD path → status` lines, oldest first. */
  lines(): string[];
  close(): Promise<void>;
}

/**
 * The gateway keeps no access log, and what the CLI does is only visible on the wire: the tap sits where a TLS
 * terminator would, relays every request unchanged (streams included) and records method, path, status and headers.
 */
export async function startTap(): Promise<Tap> {
  const exchanges: TapExchange[] = [];
  const sockets = new Set<Socket>();
  const tap: Tap = {
    url: '',
    exchanges,
    target: '',
    lines: () => exchanges.map((e) => `${e.method} ${e.path} → ${e.status}`),
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
  const server = createServer((req, res) => {
    const target = new URL(req.url ?? '/', tap.target);
    const chunks: Buffer[] = [];
    let size = 0;
    const upstream = httpRequest(target, { method: req.method, headers: req.headers }, (answer) => {
      const body = size <= 4096 ? Buffer.concat(chunks).toString('utf8') : null;
      exchanges.push({
        method: req.method ?? '',
        path: req.url ?? '',
        status: answer.statusCode ?? 0,
        requestHeaders: req.headers,
        responseHeaders: answer.headers,
        body,
      });
      res.writeHead(answer.statusCode ?? 502, answer.rawHeaders);
      answer.pipe(res);
    });
    upstream.on('error', () => res.destroy());
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= 4096) chunks.push(c);
    });
    req.pipe(upstream);
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  tap.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return tap;
}
