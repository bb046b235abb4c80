/**
 * A small fake OCG authorization server on node:http for the `ocg` CLI tests: the documented client contract
 * (protocol-facts §0, plan-issue3 "protocol surface") and nothing more — RFC 8414 metadata, RFC 8628 device
 * authorization with pending → approved / denied / expired / slow_down, the refresh-token grant with rotation and
 * reuse detection (a rotated token used again revokes its whole session, as the reference gateway does), and RFC
 * 7009 revocation. Every request is recorded so tests can assert what the CLI sent, and when it sent nothing.
 *
 * Also: `runOcg` spawns the real CLI (bin/ocg.js) with a scratch OCG_CONFIG_DIR.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const OCG_BIN = resolve(import.meta.dirname, '../bin/ocg.js');

export interface Identity {
  sub: string;
  email?: string;
  name?: string;
  groups?: string[];
}

export interface FakeRequest {
  method: string;
  path: string;
  form: URLSearchParams;
}

type DeviceState = 'pending' | 'approved' | 'denied' | 'expired' | 'slow_down' | 'consumed';

interface Device {
  deviceCode: string;
  userCode: string;
  state: DeviceState;
  identity: Identity;
}

interface Family {
  id: string;
  identity: Identity;
  revoked: boolean;
  current: string;
}

export interface FakeGateway {
  url: string;
  requests: FakeRequest[];
  /** Replaces the metadata document (null → default). */
  metadata: Record<string, unknown> | null;
  /** Replaces the whole metadata answer. */
  metadataResponse: ((res: ServerResponse) => void) | null;
  /** When set, the device authorization endpoint answers this status with an empty body. */
  deviceAuthorizationStatus: number | null;
  accessTokenTtlS: number;
  intervalS: number;
  deviceExpiresInS: number;
  /** Delays the refresh grant's answer (to make concurrent `ocg token` overlap). */
  refreshDelayMs: number;
  /** Refresh grants answered with 200. */
  refreshes: number;
  /** Set when a rotated refresh token was presented again. */
  reuseDetected: boolean;
  /** `token` values posted to the revocation endpoint, with their hints. */
  revoked: Array<{ token: string; hint: string | null }>;
  /** Issues a session directly (as if a device flow had completed). */
  issueSession(identity?: Identity): { access_token: string; refresh_token: string; expires_in: number };
  /** Sets the state of the device authorization whose user code is `userCode`. */
  setDevice(userCode: string, state: DeviceState, identity?: Identity): void;
  /** Revokes the session of a refresh token (as an admin would). */
  revokeFamilyOf(refreshToken: string): void;
  /** Every secret the gateway issued (for "never printed" assertions). */
  secrets(): string[];
  close(): Promise<void>;
}

export const ALICE: Identity = {
  sub: 'user-alice',
  email: 'alice@example.com',
  name: 'Alice Example',
  groups: ['eng', 'ai-users'],
};

function b64(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

/** A JWT-shaped token (not really signed: the CLI never verifies it). */
export function fakeAccessToken(identity: Identity, ttlS: number, iss = 'fake', sid = 'sess-1'): string {
  const now = Math.floor(Date.now() / 1000);
  return [
    b64({ alg: 'ES256', typ: 'at+jwt', kid: 'k1' }),
    b64({ iss, aud: iss, iat: now, exp: now + ttlS, jti: randomBytes(8).toString('hex'), sid, ...identity }),
    randomBytes(32).toString('base64url'),
  ].join('.');
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolveBody, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolveBody(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function json(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'cache-control': 'no-store',
    'content-length': String(Buffer.byteLength(text)),
    ...headers,
  });
  res.end(text);
}

const ALPHABET = 'BCDFGHJKLMNPQRSTVWXZ';
function userCode(): string {
  const bytes = randomBytes(8);
  const chars = [...bytes].map((b) => ALPHABET[b % ALPHABET.length]);
  return `${chars.slice(0, 4).join('')}-${chars.slice(4).join('')}`;
}

export async function startFakeGateway(): Promise<FakeGateway> {
  const devices = new Map<string, Device>();
  const families = new Map<string, Family>();
  const refreshIndex = new Map<string, Family>();
  const issued: string[] = [];
  const sockets = new Set<Socket>();

  function newRefreshToken(family: Family): string {
    const token = `rt_${randomBytes(32).toString('base64url')}`;
    family.current = token;
    refreshIndex.set(token, family);
    issued.push(token);
    return token;
  }

  function tokenResponse(family: Family) {
    const access = fakeAccessToken(family.identity, fake.accessTokenTtlS, fake.url, family.id);
    issued.push(access);
    return {
      access_token: access,
      token_type: 'Bearer',
      expires_in: fake.accessTokenTtlS,
      refresh_token: newRefreshToken(family),
    };
  }

  function newFamily(identity: Identity): Family {
    const family: Family = {
      id: `sess-${randomBytes(4).toString('hex')}`,
      identity,
      revoked: false,
      current: '',
    };
    families.set(family.id, family);
    return family;
  }

  function defaultMetadata() {
    return {
      issuer: fake.url,
      device_authorization_endpoint: `${fake.url}/oauth/device_authorization`,
      token_endpoint: `${fake.url}/oauth/token`,
      revocation_endpoint: `${fake.url}/oauth/revoke`,
      grant_types_supported: ['urn:ietf:params:oauth:grant-type:device_code', 'refresh_token'],
      token_endpoint_auth_methods_supported: ['none'],
      response_types_supported: [],
      scopes_supported: [],
      ocg_protocol_version: '0.3',
    };
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', fake.url);
    const body = await readBody(req);
    const form = new URLSearchParams(body);
    fake.requests.push({ method: req.method ?? '', path: url.pathname, form });

    if (req.method === 'GET' && url.pathname === '/.well-known/oauth-authorization-server') {
      if (fake.metadataResponse) return fake.metadataResponse(res);
      return json(res, 200, fake.metadata ?? defaultMetadata());
    }
    if (req.method === 'POST' && url.pathname === '/oauth/device_authorization') {
      if (fake.deviceAuthorizationStatus !== null) {
        res.writeHead(fake.deviceAuthorizationStatus, { 'content-length': '0' });
        return void res.end();
      }
      const device: Device = {
        deviceCode: `dc_${randomBytes(32).toString('base64url')}`,
        userCode: userCode(),
        state: 'pending',
        identity: ALICE,
      };
      devices.set(device.deviceCode, device);
      issued.push(device.deviceCode);
      return json(res, 200, {
        device_code: device.deviceCode,
        user_code: device.userCode,
        verification_uri: `${fake.url}/device`,
        verification_uri_complete: `${fake.url}/device?user_code=${device.userCode}`,
        expires_in: fake.deviceExpiresInS,
        interval: fake.intervalS,
      });
    }
    if (req.method === 'POST' && url.pathname === '/oauth/token') {
      const grant = form.get('grant_type');
      if (grant === 'urn:ietf:params:oauth:grant-type:device_code') {
        const device = devices.get(form.get('device_code') ?? '');
        if (!device || device.state === 'consumed') return json(res, 400, { error: 'invalid_grant' });
        switch (device.state) {
          case 'pending':
            return json(res, 400, { error: 'authorization_pending', error_description: 'keep polling' });
          case 'slow_down':
            device.state = 'pending';
            return json(res, 400, { error: 'slow_down', error_description: 'polling too fast' });
          case 'denied':
            return json(res, 400, {
              error: 'access_denied',
              error_description: 'The user denied the sign-in.',
            });
          case 'expired':
            return json(res, 400, {
              error: 'expired_token',
              error_description: 'The device code has expired.',
            });
          case 'approved':
            device.state = 'consumed';
            return json(res, 200, tokenResponse(newFamily(device.identity)));
        }
      }
      if (grant === 'refresh_token') {
        if (fake.refreshDelayMs > 0) await new Promise((r) => setTimeout(r, fake.refreshDelayMs));
        const presented = form.get('refresh_token') ?? '';
        const family = refreshIndex.get(presented);
        if (!family || family.revoked) return json(res, 401, { error: 'invalid_grant' });
        if (family.current !== presented) {
          fake.reuseDetected = true;
          family.revoked = true;
          return json(res, 401, { error: 'invalid_grant' });
        }
        fake.refreshes += 1;
        return json(res, 200, tokenResponse(family));
      }
      return json(res, 400, { error: 'unsupported_grant_type' });
    }
    if (req.method === 'POST' && url.pathname === '/oauth/revoke') {
      const token = form.get('token') ?? '';
      fake.revoked.push({ token, hint: form.get('token_type_hint') });
      const family = refreshIndex.get(token);
      if (family) family.revoked = true;
      res.writeHead(200, { 'content-length': '0' });
      return void res.end();
    }
    json(res, 404, { type: 'error', error: { type: 'not_found_error', message: 'not found' } });
  }

  const server = createServer((req, res) => {
    handle(req, res).catch(() => res.destroy());
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));

  const fake: FakeGateway = {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests: [],
    metadata: null,
    metadataResponse: null,
    deviceAuthorizationStatus: null,
    accessTokenTtlS: 3600,
    intervalS: 0.2,
    deviceExpiresInS: 600,
    refreshDelayMs: 0,
    refreshes: 0,
    reuseDetected: false,
    revoked: [],
    issueSession(identity = ALICE) {
      const t = tokenResponse(newFamily(identity));
      return t;
    },
    setDevice(code, state, identity) {
      for (const d of devices.values()) {
        if (d.userCode === code) {
          d.state = state;
          if (identity) d.identity = identity;
          return;
        }
      }
      throw new Error(`no device authorization with user code ${code}`);
    },
    revokeFamilyOf(refreshToken) {
      const family = refreshIndex.get(refreshToken);
      if (family) family.revoked = true;
    },
    secrets: () => [...issued],
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
  return fake;
}

export interface OcgRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface OcgProcess {
  child: ChildProcess;
  done: Promise<OcgRun>;
  /** Resolves with the first match of `pattern` in stderr so far or later. */
  waitForStderr(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
}

/** Spawns `ocg <args>` as a real process, the way a user or Claude Code's apiKeyHelper does. */
export function spawnOcg(args: string[], env: Record<string, string>): OcgProcess {
  const child = spawn(process.execPath, [OCG_BIN, ...args], {
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  const waiters: Array<() => void> = [];
  child.stdout?.on('data', (c: Buffer) => {
    stdout += c.toString();
  });
  child.stderr?.on('data', (c: Buffer) => {
    stderr += c.toString();
    for (const w of waiters.splice(0)) w();
  });
  const done = new Promise<OcgRun>((r) =>
    child.on('close', (code, signal) => r({ code, signal, stdout, stderr })),
  );
  function waitForStderr(pattern: RegExp, timeoutMs = 15_000): Promise<RegExpMatchArray> {
    return new Promise((resolveMatch, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`timed out waiting for ${pattern} in: ${stderr}`)),
        timeoutMs,
      );
      const check = () => {
        const m = stderr.match(pattern);
        if (m) {
          clearTimeout(timer);
          resolveMatch(m);
        } else waiters.push(check);
      };
      check();
      void done.then(() => {
        if (!stderr.match(pattern)) {
          clearTimeout(timer);
          reject(new Error(`ocg exited before ${pattern} appeared: ${stderr}`));
        }
      });
    });
  }
  return { child, done, waitForStderr };
}

export function runOcg(args: string[], env: Record<string, string>): Promise<OcgRun> {
  return spawnOcg(args, env).done;
}

/** A fresh scratch config dir (not yet created: the CLI must create it 0700) and the env that points at it. */
export function scratch(): { dir: string; file: string; env: Record<string, string> } {
  const root = mkdtempSync(join(tmpdir(), 'ocg-cli-'));
  const dir = join(root, 'config', 'ocg');
  return { dir, file: join(dir, 'session.json'), env: { OCG_CONFIG_DIR: dir, HOME: root } };
}

/** Writes a session file the way `ocg login` would have left it. */
export function writeSession(
  dir: string,
  fake: FakeGateway,
  tokens: { access_token: string; refresh_token: string | null },
  expiresInS: number,
  overrides: Record<string, unknown> = {},
): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = join(dir, 'session.json');
  writeFileSync(
    file,
    JSON.stringify({
      version: 1,
      gateway_url: fake.url,
      issuer: fake.url,
      token_endpoint: `${fake.url}/oauth/token`,
      revocation_endpoint: `${fake.url}/oauth/revoke`,
      access_token: tokens.access_token,
      token_type: 'bearer',
      expires_at: new Date(Date.now() + expiresInS * 1000).toISOString(),
      refresh_token: tokens.refresh_token,
      obtained_at: new Date().toISOString(),
      ...overrides,
    }),
    { mode: 0o600 },
  );
  chmodSync(file, 0o600);
}
