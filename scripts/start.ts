#!/usr/bin/env node
/**
 * `npm start`: the launcher that wires the reference gateway to what it needs.
 *
 * - With a configuration (`npm start -- --config gateway.yaml`, or `OCG_CONFIG`): runs the gateway's own CLI with it,
 *   nothing else.
 * - Without one: the DEVELOPMENT PROFILE. It starts the conformance kit's mock Anthropic upstream on loopback, renders a
 *   gateway configuration pointing at it (embedded PGlite under `.ocg/`, a random development bearer token kept in
 *   `.ocg/dev-token`), starts the gateway on http://127.0.0.1:8080 and prints how to send a first request.
 *   It refuses to run with `NODE_ENV=production`.
 *
 * The gateway package never depends on the kit and the kit never imports the gateway: only this launcher knows both.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { startMockAnthropic } from '@ocg/conformance';
import { parseConfig, startGateway } from '@ocg/gateway';

const root = path.resolve(import.meta.dirname, '..');

const values = parseCommandLine();

if (values.help) {
  console.log(`Usage:
  npm start                              development profile: mock upstream + gateway on http://127.0.0.1:8080
  npm start -- --port 9090               the same on another port
  npm start -- --config gateway.yaml     a real configuration (or set OCG_CONFIG); DATABASE_URL selects PostgreSQL
Environment:
  OCG_STATE_DIR    where the development profile keeps its PGlite data, token and rendered config (default .ocg/)`);
  process.exit(0);
}

const configFile = values.config ?? process.env.OCG_CONFIG;
if (configFile) {
  await runConfiguredGateway(configFile);
} else {
  await runDevelopmentProfile(values.port === undefined ? 8080 : Number(values.port));
}

async function runConfiguredGateway(file: string): Promise<void> {
  const pkgJson = createRequire(import.meta.url).resolve('@ocg/gateway/package.json');
  const bin = path.join(path.dirname(pkgJson), 'src', 'main.ts');
  const child = spawn(process.execPath, [bin, '--config', path.resolve(file)], { stdio: 'inherit' });
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => child.kill(signal));
  }
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
}

async function runDevelopmentProfile(port: number): Promise<void> {
  if (process.env.NODE_ENV === 'production') {
    console.error(
      'Refusing to start the development profile with NODE_ENV=production: it uses a mock upstream and a ' +
        'development token. Give a real configuration: npm start -- --config gateway.yaml',
    );
    process.exit(1);
  }
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    console.error(`--port must be an integer between 1 and 65535, got ${JSON.stringify(values.port)}`);
    process.exit(1);
  }

  const stateDir = path.resolve(process.env.OCG_STATE_DIR ?? path.join(root, '.ocg'));
  const shown = path.relative(process.cwd(), stateDir) || '.';
  mkdirSync(stateDir, { recursive: true });
  const token = devToken(path.join(stateDir, 'dev-token'));
  const upstreamKey = `mock-upstream-${randomBytes(16).toString('hex')}`;
  const mock = await startMockAnthropic({ apiKey: upstreamKey });

  const yaml = [
    '# Rendered by `npm start` (development profile). Not a production configuration.',
    'server:',
    '  host: 127.0.0.1',
    `  port: ${port}`,
    'database:',
    `  url: pglite://${path.join(stateDir, 'data')}`,
    'auth:',
    '  staticTokens:',
    '    - token: ${env:OCG_DEV_TOKEN}',
    '      subject: dev-user',
    '      email: dev@example.com',
    'upstreams:',
    '  - name: mock-anthropic',
    '    kind: anthropic',
    `    baseUrl: ${mock.url}`,
    '    apiKey: ${env:OCG_DEV_UPSTREAM_KEY}',
    'log:',
    '  level: info',
    '',
  ].join('\n');
  writeFileSync(path.join(stateDir, 'dev-gateway.yaml'), yaml);

  let gateway: Awaited<ReturnType<typeof startGateway>>;
  try {
    const config = parseConfig(yaml, {
      ...process.env,
      OCG_DEV_TOKEN: token,
      OCG_DEV_UPSTREAM_KEY: upstreamKey,
    });
    gateway = await startGateway(config);
  } catch (err) {
    await mock.close();
    const code = (err as { code?: string }).code;
    if (code === 'EADDRINUSE') {
      console.error(
        `Port ${port} is already in use. Stop what runs there or choose another: npm start -- --port 9090`,
      );
    } else {
      console.error(`The gateway did not start: ${(err as Error).message}`);
    }
    process.exit(1);
  }

  const url = gateway.url;
  console.log(`
  ┌────────────────────────────────────────────────────────────────────────┐
  │ OCG reference gateway — DEVELOPMENT PROFILE (never use in production)  │
  └────────────────────────────────────────────────────────────────────────┘
    gateway    ${url}   (protocol: ${url}/protocol)
    upstream   mock Anthropic API at ${mock.url} — canned answers, no cloud account
    database   embedded PGlite in ${shown}/data
    token      development bearer in ${shown}/dev-token
    config     ${shown}/dev-gateway.yaml (rendered; secrets are env references)

  Send a first request:
    curl -s ${url}/v1/messages \\
      -H "authorization: Bearer $(cat ${shown}/dev-token)" \\
      -H 'content-type: application/json' -H 'anthropic-version: 2023-06-01' \\
      -d '{"model":"claude-sonnet-4-5","max_tokens":256,"messages":[{"role":"user","content":"Hello"}]}'

  Stop with Ctrl-C.
`);

  let stopping = false;
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, async () => {
      if (stopping) return;
      stopping = true;
      await gateway.close();
      await mock.close();
      process.exit(0);
    });
  }
}

function parseCommandLine(): { config?: string; port?: string; help?: boolean } {
  try {
    return parseArgs({
      options: {
        config: { type: 'string' },
        port: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }).values;
  } catch (err) {
    console.error(`${(err as Error).message}\nRun \`npm start -- --help\` for usage.`);
    process.exit(2);
  }
}

/** The development token survives restarts so a newcomer's shell snippets keep working; the file is user-only. */
function devToken(file: string): string {
  if (existsSync(file)) {
    const existing = readFileSync(file, 'utf8').trim();
    if (existing.length >= 32) return existing;
  }
  const token = `ocg_dev_${randomBytes(24).toString('base64url')}`;
  writeFileSync(file, `${token}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
  return token;
}
