#!/usr/bin/env node
/**
 * `ocg-gateway --config <file.yaml>` (or `OCG_CONFIG=<file.yaml> ocg-gateway`).
 *
 * Logs JSON lines to stdout; `{"msg":"gateway listening","url":…}` once it serves. A configuration error prints one
 * line to stderr and exits 1. SIGTERM / SIGINT stop it gracefully (exit 0); a second signal exits at once.
 */
import { parseArgs } from 'node:util';
import { configSecrets, loadConfigFile } from './config/load.ts';
import { isGatewayError } from './errors.ts';
import { type Gateway, startGateway } from './gateway.ts';
import { createLogger } from './log/logger.ts';

const USAGE = `Usage: ocg-gateway --config <file.yaml>

Runs the Open Coding Gateway reference gateway.

Options:
  -c, --config <file>  Configuration file (YAML). Default: the OCG_CONFIG environment variable.
  -h, --help           Show this help.

Environment:
  OCG_CONFIG           Configuration file, when --config is not given.
  DATABASE_URL         Overrides database.url (postgres://…, pglite:///dir, pglite:memory:).

On SIGTERM/SIGINT the gateway stops accepting connections, lets in-flight requests finish for up to
server.shutdownGraceMs, then aborts them and exits 0.
`;

/** Errors the operator can fix: print the message, not a stack trace. */
const EXPECTED = new Set([
  'ERR_CONFIG_INVALID',
  'ERR_MIGRATION_CHECKSUM',
  'ERR_MIGRATION_FAILED',
  'ERR_STORE_UNAVAILABLE',
  'ERR_UNBOUND_OPERATION',
  'ERR_UNKNOWN_OPERATION',
]);
const EXPECTED_SYSTEM = new Set([
  'EADDRINUSE',
  'EACCES',
  'EADDRNOTAVAIL',
  'ECONNREFUSED',
  'ENOTFOUND',
  '28P01',
  '3D000',
]);

function fail(message: string): never {
  process.stderr.write(`ocg-gateway: ${message}\n`);
  process.exit(1);
}

async function main(): Promise<void> {
  let values: { config?: string | undefined; help?: boolean | undefined };
  try {
    ({ values } = parseArgs({
      options: { config: { type: 'string', short: 'c' }, help: { type: 'boolean', short: 'h' } },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    fail(`${(err as Error).message}\n\n${USAGE}`);
  }
  if (values.help) {
    process.stdout.write(USAGE);
    return;
  }
  const configPath = values.config ?? process.env.OCG_CONFIG;
  if (!configPath) fail('no configuration: pass --config <file.yaml> or set OCG_CONFIG');

  let gateway: Gateway;
  try {
    const config = await loadConfigFile(configPath);
    const logger = createLogger({ level: config.log.level, secrets: configSecrets(config) });
    process.on('unhandledRejection', (reason) =>
      logger.error('unhandled promise rejection', { err: reason }),
    );
    gateway = await startGateway(config, { logger });
  } catch (err) {
    if (isGatewayError(err) && EXPECTED.has(err.code)) fail(err.message);
    const code = (err as { code?: unknown }).code;
    if (typeof code === 'string' && EXPECTED_SYSTEM.has(code))
      fail(`cannot start: ${(err as Error).message}`);
    throw err;
  }

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) {
      process.stderr.write(`ocg-gateway: second ${signal}, exiting now\n`);
      process.exit(1);
    }
    stopping = true;
    gateway.close().then(
      () => process.exit(0),
      (err: unknown) => {
        process.stderr.write(`ocg-gateway: shutdown failed: ${(err as Error).message}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

await main();
