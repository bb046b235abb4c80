#!/usr/bin/env node
/**
 * Bootstrap: creates an admin API key straight in the gateway's database, for the first admin (before anyone can
 * call `createAdminApiKey`) or to recover when every write key is lost.
 *
 *   node reference-impl/src/admin/create-key.ts --config gateway.yaml --name bootstrap --scope write
 *
 * Prints the key alone on stdout (so `KEY=$(node … create-key.ts …)` works) and the key's id and advice on stderr.
 * The key is shown this once: only its SHA-256 is stored. It is never logged. Run it with the gateway's
 * environment (the config's secret references must resolve; `DATABASE_URL` overrides `database.url`). It applies
 * pending migrations first, like the gateway's boot. With the embedded PGlite database on disk, stop the gateway
 * first (PGlite allows one process at a time); with PostgreSQL it can run next to live replicas.
 */
import { parseArgs } from 'node:util';
import { configSecrets, loadConfigFile } from '../config/load.ts';
import { isGatewayError } from '../errors.ts';
import { createLogger } from '../log/logger.ts';
import { migrate } from '../store/migrate.ts';
import { createStore } from '../store/store.ts';
import { checkNewKey, createAdminApiKeys } from './api-keys.ts';

const USAGE = `Usage: create-key --config <file.yaml> --name <name> --scope read|write

Creates an admin API key in the gateway's database and prints it once (stdout). Only its hash is stored.

Options:
  -c, --config <file>  Gateway configuration file (YAML). Default: the OCG_CONFIG environment variable.
  -n, --name <name>    What the key is for (shown in listAdminApiKeys), at most 100 characters.
  -s, --scope <scope>  read (the read operations) or write (every admin operation).
  -h, --help           Show this help.
`;

function fail(message: string): never {
  process.stderr.write(`create-key: ${message}\n`);
  process.exit(1);
}

async function main(): Promise<void> {
  let values: { config?: string; name?: string; scope?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      options: {
        config: { type: 'string', short: 'c' },
        name: { type: 'string', short: 'n' },
        scope: { type: 'string', short: 's' },
        help: { type: 'boolean', short: 'h' },
      },
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
  if (!configPath) fail(`--config is required\n\n${USAGE}`);
  let input: ReturnType<typeof checkNewKey>;
  try {
    input = checkNewKey(values.name, values.scope);
  } catch (err) {
    fail(`${(err as Error).message}\n\n${USAGE}`);
  }

  const config = await loadConfigFile(configPath);
  // Diagnostics go to stderr; stdout carries the key only.
  const logger = createLogger({
    level: 'warn',
    secrets: configSecrets(config),
    write: (line) => process.stderr.write(line),
  });
  const store = await createStore(config.database.url, { logger });
  try {
    await migrate(store, { logger });
    const { record, key } = await createAdminApiKeys(store).create({ ...input, createdBy: 'cli' });
    process.stdout.write(`${key}\n`);
    process.stderr.write(
      `Created admin API key ${record.id} (name "${record.name}", scope ${record.scope}).\n` +
        'It is shown only this once: store it in a secret manager now. Send it as x-api-key to /v1/admin/*.\n',
    );
  } finally {
    await store.close();
  }
}

main().catch((err: unknown) => {
  if (isGatewayError(err)) fail(err.message);
  fail(err instanceof Error ? `${err.name}: ${err.message}` : String(err));
});
