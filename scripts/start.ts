#!/usr/bin/env node
/**
 * `npm start`: the launcher that wires the reference gateway to what it needs.
 *
 * - With a configuration (`npm start -- --config gateway.yaml`, or `OCG_CONFIG`): runs the gateway's own CLI with it,
 *   nothing else.
 * - Without one: the DEVELOPMENT PROFILE. It starts the conformance kit's mock Anthropic upstream and its mock OpenID
 *   Provider on loopback (with a demo user whose email and password it prints), registers the gateway at the IdP,
 *   renders a gateway configuration that trusts it (embedded PGlite under `.ocg/`, a key-encryption key and the demo
 *   user kept in `.ocg/` so sessions survive restarts, a development bearer token kept in `.ocg/dev-token`), starts
 *   the gateway on http://127.0.0.1:8080 and prints how to sign in and send a first request.
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
import { startMockAnthropic, startMockIdp } from '@ocg/conformance';
import { parseConfig, startGateway } from '@ocg/gateway';

const root = path.resolve(import.meta.dirname, '..');

/** The demo user's IdP client id and groups in the development profile. */
const DEV_CLIENT_ID = 'ocg-dev-gateway';
const DEV_GROUP = 'ocg-developers';
const DEV_ADMIN_GROUP = 'ocg-admins';

const values = parseCommandLine();

if (values.help) {
  console.log(`Usage:
  npm start                              development profile: mock upstream + mock IdP + gateway on http://127.0.0.1:8080
  npm start -- --port 9090               the same on another port
  npm start -- --config gateway.yaml     a real configuration (or set OCG_CONFIG); DATABASE_URL selects PostgreSQL
Environment:
  OCG_STATE_DIR    where the development profile keeps its PGlite data, token, key-encryption key, demo user and
                   rendered config (default .ocg/)`);
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
  const kek = secretFile(path.join(stateDir, 'dev-kek'), () => randomBytes(32).toString('base64url'));
  const demo = demoUser(path.join(stateDir, 'dev-idp-user.json'));
  const upstreamKey = `mock-upstream-${randomBytes(16).toString('hex')}`;
  const mock = await startMockAnthropic({ apiKey: upstreamKey });
  const idp = await startMockIdp({ seed: randomBytes(4).readUInt32BE(0), users: [demo] });
  const publicUrl = `http://127.0.0.1:${port}`;
  const clientSecret = randomBytes(24).toString('base64url');
  await idp.registerClient({
    clientId: DEV_CLIENT_ID,
    clientSecret,
    redirectUris: [`${publicUrl}/oauth/callback`],
  });

  const yaml = [
    '# Rendered by `npm start` (development profile). Not a production configuration.',
    'server:',
    '  host: 127.0.0.1',
    `  port: ${port}`,
    'database:',
    `  url: pglite://${path.join(stateDir, 'data')}`,
    'auth:',
    `  issuer: ${publicUrl}`,
    '  keyEncryptionKey: ${env:OCG_DEV_KEK}',
    '  oidc:',
    `    issuer: ${idp.issuer}   # the kit's mock IdP, fresh on every start`,
    `    clientId: ${DEV_CLIENT_ID}`,
    '    clientSecret: ${env:OCG_DEV_OIDC_CLIENT_SECRET}',
    '    scopes: openid email profile groups offline_access',
    '  adminGroups:',
    `    write: [${DEV_ADMIN_GROUP}]`,
    '  staticTokens:',
    '    - token: ${env:OCG_DEV_TOKEN}',
    '      subject: dev-user',
    '      email: dev@example.com',
    `      groups: [${DEV_GROUP}]`,
    'upstreams:',
    '  - name: mock-anthropic',
    '    kind: anthropic',
    `    baseUrl: ${mock.url}`,
    '    apiKey: ${env:OCG_DEV_UPSTREAM_KEY}',
    'models:',
    '  - { id: claude-sonnet-4-5, displayName: Claude Sonnet 4.5, aliases: [sonnet] }',
    '  - { id: claude-opus-4-1, displayName: Claude Opus 4.1, aliases: [opus] }',
    '  - { id: claude-haiku-4-5, displayName: Claude Haiku 4.5, aliases: [haiku] }',
    'policies:',
    '  - name: developers',
    `    match: { groups: [${DEV_GROUP}] }`,
    '    managedSettings:',
    "      env: { CLAUDE_CODE_ENABLE_GATEWAY_MODEL_DISCOVERY: '1' }",
    "    models: ['*']",
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
      OCG_DEV_KEK: kek,
      OCG_DEV_OIDC_CLIENT_SECRET: clientSecret,
    });
    gateway = await startGateway(config);
  } catch (err) {
    await mock.close();
    await idp.close();
    const code = (err as { code?: string }).code;
    if (code === 'EADDRINUSE') {
      console.error(
        `Port ${port} is already in use. Stop what runs there or choose another: npm start -- --port 9090`,
      );
    } else if (code === 'ERR_KEK_MISMATCH') {
      console.error(
        `The development database in ${shown}/data was encrypted with another key than ${shown}/dev-kek. ` +
          `Delete ${shown}/ to start afresh (you will sign in again).`,
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
    IdP        mock OpenID Provider at ${idp.issuer} (the conformance kit's, on oidc-provider)
    user       ${demo.email} / ${demo.password}   (groups ${DEV_GROUP}, ${DEV_ADMIN_GROUP})
    database   embedded PGlite in ${shown}/data
    token      development bearer in ${shown}/dev-token
    config     ${shown}/dev-gateway.yaml (rendered; secrets are env references)

  Sign in through the real flow (device code → browser → IdP login):
    node_modules/.bin/ocg login ${url}
    or open ${url}/device and enter the code a client shows you;
    then: node_modules/.bin/ocg token   (a fresh access token, usable as Claude Code's apiKeyHelper)

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
      await idp.close();
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

/**
 * The demo user survives restarts (same email, password and subject), so a signed-in session keeps mapping to the
 * same person; the mock IdP itself starts fresh, so a refresh after a restart asks to sign in again.
 */
function demoUser(file: string): {
  subject: string;
  email: string;
  password: string;
  name: string;
  groups: string[];
} {
  const groups = [DEV_GROUP, DEV_ADMIN_GROUP];
  if (existsSync(file)) {
    try {
      const saved = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
      if (
        typeof saved.subject === 'string' &&
        typeof saved.email === 'string' &&
        typeof saved.password === 'string'
      ) {
        return {
          subject: saved.subject,
          email: saved.email,
          password: saved.password,
          name: 'Dev User',
          groups,
        };
      }
    } catch {
      // unreadable: draw a new one
    }
  }
  const user = {
    subject: randomBytes(12).toString('hex'),
    email: 'dev@example.test',
    password: randomBytes(12).toString('base64url'),
  };
  writeFileSync(file, `${JSON.stringify(user, null, 2)}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
  return { ...user, name: 'Dev User', groups };
}

/** A secret kept in a user-only file: read it, or create it with `make`. */
function secretFile(file: string, make: () => string): string {
  if (existsSync(file)) {
    const existing = readFileSync(file, 'utf8').trim();
    if (existing.length > 0) return existing;
  }
  const value = make();
  writeFileSync(file, `${value}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
  return value;
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
