/**
 * `ocg`, the Open Coding Gateway client CLI: argument parsing and dispatch. `runCli` takes its environment and
 * output streams as arguments and returns the exit status, so `main.ts` is the only place that touches `process`.
 *
 * Every failure is one `CliError`: printed as `ocg: <message> [<code>]` on stderr, with the code's exit status
 * (errors.ts). stdout carries only what a script reads: the token (`ocg token`) and `ocg status`.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { login } from './commands/login.ts';
import { logout } from './commands/logout.ts';
import { status } from './commands/status.ts';
import { DEFAULT_MIN_TTL_S, token } from './commands/token.ts';
import type { CliContext } from './context.ts';
import { CliError } from './errors.ts';
import { sanitize } from './output.ts';
import { configDir, createSessionStore } from './session-store.ts';

export const USAGE = `Usage: ocg <command> [options]

Signs you in to an Open Coding Gateway through your company's identity provider and hands its short-lived
access tokens to tools such as Claude Code.

Commands:
  login [<gateway-url>]    sign in in a browser (device flow) and store the session
  token [--min-ttl <s>]    print a valid access token, refreshing it when fewer than <s> seconds remain
                           (default ${DEFAULT_MIN_TTL_S}); made for Claude Code's "apiKeyHelper": "ocg token"
  status [--json]          show the gateway, who you are signed in as and when the token expires
                           (exit 0 signed in, 1 not)
  logout                   revoke the session at the gateway and delete it here

Options:
  -h, --help               show this help
  -v, --version            show the version

Environment:
  OCG_CONFIG_DIR           where the session is kept (default: $XDG_CONFIG_HOME/ocg, else ~/.config/ocg)
  OCG_GATEWAY_URL          the gateway for \`ocg login\` without an argument

Documentation: docs/cli.md`;

export interface CliIo {
  env: Readonly<Record<string, string | undefined>>;
  out(text: string): void;
  err(text: string): void;
  now?: () => number;
  signal?: AbortSignal;
}

function version(): string {
  try {
    const pkg = JSON.parse(readFileSync(join(import.meta.dirname, '..', '..', 'package.json'), 'utf8')) as {
      version?: string;
    };
    return pkg.version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

function parse(argv: string[]) {
  try {
    return parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean', short: 'v' },
        json: { type: 'boolean' },
        'min-ttl': { type: 'string' },
      },
    });
  } catch (err) {
    throw new CliError('ERR_USAGE', `${(err as Error).message.split('\n')[0]}\n\n${USAGE}`);
  }
}

function onlyFor(command: string, given: Record<string, unknown>, allowed: string[]): void {
  for (const [name, value] of Object.entries(given)) {
    if (value !== undefined && !allowed.includes(name) && name !== 'help') {
      throw new CliError('ERR_USAGE', `\`ocg ${command}\` does not take --${name}`);
    }
  }
}

function maxArgs(command: string, positionals: string[], max: number): void {
  if (positionals.length > max) {
    throw new CliError(
      'ERR_USAGE',
      `unexpected argument for \`ocg ${command}\`: ${sanitize(positionals[max] ?? '')}`,
    );
  }
}

async function dispatch(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parse(argv);
  const [command, ...rest] = positionals;
  if (values.version) {
    io.out(`ocg ${version()}\n`);
    return 0;
  }
  if (values.help || command === undefined || command === 'help') {
    if (command === undefined && !values.help) {
      io.err(`${USAGE}\n`);
      return 2;
    }
    io.out(`${USAGE}\n`);
    return 0;
  }
  const ctx: CliContext = {
    env: io.env,
    now: io.now ?? Date.now,
    out: io.out,
    err: io.err,
    signal: io.signal ?? new AbortController().signal,
    store: createSessionStore(configDir(io.env)),
  };
  const { help: _h, version: _v, ...given } = values;
  switch (command) {
    case 'login':
      onlyFor(command, given, []);
      maxArgs(command, rest, 1);
      return login(ctx, rest[0] === undefined ? {} : { url: rest[0] });
    case 'token': {
      onlyFor(command, given, ['min-ttl']);
      maxArgs(command, rest, 0);
      let minTtlS = DEFAULT_MIN_TTL_S;
      if (values['min-ttl'] !== undefined) {
        minTtlS = Number(values['min-ttl']);
        if (!/^\d+$/.test(values['min-ttl']) || !Number.isSafeInteger(minTtlS)) {
          throw new CliError('ERR_USAGE', '--min-ttl takes a whole number of seconds');
        }
      }
      return token(ctx, { minTtlS });
    }
    case 'status':
      onlyFor(command, given, ['json']);
      maxArgs(command, rest, 0);
      return status(ctx, { json: values.json === true });
    case 'logout':
      onlyFor(command, given, []);
      maxArgs(command, rest, 0);
      return logout(ctx);
    default:
      throw new CliError('ERR_USAGE', `unknown command: ${sanitize(command, 40)}\n\n${USAGE}`);
  }
}

/** Runs one `ocg` invocation; never throws. */
export async function runCli(argv: string[], io: CliIo): Promise<number> {
  try {
    return await dispatch(argv, io);
  } catch (err) {
    const e =
      err instanceof CliError
        ? err
        : new CliError(
            'ERR_INTERNAL',
            `internal error: ${sanitize(String((err as Error)?.message ?? err))}`,
            {
              cause: err,
            },
          );
    io.err(`ocg: ${e.message} [${e.code}]\n`);
    return e.exitCode;
  }
}
