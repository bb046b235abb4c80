#!/usr/bin/env node
/**
 * What session verification adds per request (issue 3 "Bench": target < 50 µs median over the static-token path).
 *
 * In one process, with no HTTP around it, so the figure is the authentication step alone:
 * - `static`: the development static-token path (`auth/static-tokens.ts`: read the header, SHA-256, constant-time
 *   compare against every configured token).
 * - `session`: the signed-in path as the gateway runs it, `createAuthenticator` (auth/authenticate.ts): a token seen
 *   before is answered from the authenticator's memory of verified tokens; the revocation check (per-replica cache,
 *   2 s TTL) runs on every request. Tokens of `--sessions` distinct sessions are used round robin.
 * - `first-use`: a token's first request: `verifyAccessToken` (ES256 signature with the key ring's key,
 *   `iss`/`aud`/`typ`/`exp` checks, claim shapes) and the cached revocation check.
 * - `session-uncached`: the same with every revocation check going to the database (cache TTL 0): the worst case,
 *   and what the cache saves. Embedded PGlite in memory (or `--database <postgres url>`).
 *
 * Calls run one after another (concurrency 1); each is timed with `process.hrtime`. Scenarios alternate within each
 * round and the order rotates between rounds. Added = median(session) − median(static) of the same round; the
 * report gives the median over rounds.
 *
 *   npm run bench:session-verify [-- --rounds 5 --iterations 20000 --sessions 1000 --quick --database <url>]
 *
 * Writes bench/results/<YYYY-MM-DD>T<HHMM>-session-verify.{json,md} and prints the Markdown.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { jwtVerify } from 'jose';
import { createAuthenticator } from '../reference-impl/src/auth/authenticate.ts';
import {
  createStaticTokenAuthenticator,
  presentedCredentials,
} from '../reference-impl/src/auth/static-tokens.ts';
import { silentLogger } from '../reference-impl/src/log/logger.ts';
import { issueAccessToken, verifyAccessToken } from '../reference-impl/src/session/access-token.ts';
import { createKek } from '../reference-impl/src/session/kek.ts';
import { createKeyRing } from '../reference-impl/src/session/keys.ts';
import { createRevocation } from '../reference-impl/src/session/revocation.ts';
import { createSessionManager, sessionPrincipal } from '../reference-impl/src/session/sessions.ts';
import { migrate } from '../reference-impl/src/store/migrate.ts';
import { createStore } from '../reference-impl/src/store/store.ts';
import { freeResultBase, runStamp } from './lib/results.ts';
import { median, percentileSorted } from './lib/stats.ts';

const TARGET_ADDED_US = 50;
const benchDir = dirname(fileURLToPath(import.meta.url));
const repoRoot = resolve(benchDir, '..');

const { values: args } = parseArgs({
  options: {
    rounds: { type: 'string' },
    iterations: { type: 'string' },
    sessions: { type: 'string', default: '1000' },
    'static-tokens': { type: 'string', default: '1' },
    database: { type: 'string', default: 'pglite:memory:' },
    quick: { type: 'boolean', default: false },
    out: { type: 'string', default: join(benchDir, 'results') },
    help: { type: 'boolean', default: false },
  },
});
if (args.help) {
  console.log(`usage: npm run bench:session-verify -- [options]
  --rounds N          rounds of every scenario (default 5; --quick: 1)
  --iterations N      timed calls per scenario per round (default 20000; --quick: 2000)
  --sessions N        distinct sessions whose tokens are used round robin (default 1000)
  --static-tokens N   configured static tokens the static path compares against (default 1)
  --database URL      database of the revocation check (default pglite:memory:)
  --quick             smoke run; result files get a "-quick" suffix
  --out DIR           where results go (default bench/results)`);
  process.exit(0);
}

const quick = args.quick;
const rounds = Number(args.rounds ?? (quick ? 1 : 5));
const iterations = Number(args.iterations ?? (quick ? 2000 : 20000));
const sessionCount = Number(args.sessions);
const staticCount = Number(args['static-tokens']);
for (const [name, v] of [
  ['rounds', rounds],
  ['iterations', iterations],
  ['sessions', sessionCount],
  ['static-tokens', staticCount],
] as const) {
  if (!Number.isInteger(v) || v < 1) {
    console.error(`--${name} must be a positive integer`);
    process.exit(2);
  }
}

type ScenarioId = 'static' | 'session' | 'session-uncached' | 'jws-only' | 'first-use';
const SCENARIOS: readonly ScenarioId[] = ['static', 'session', 'session-uncached', 'jws-only', 'first-use'];
const DESCRIPTIONS: Record<ScenarioId, string> = {
  static: 'static development token (SHA-256 + constant-time compare)',
  session:
    'gateway access token through `createAuthenticator` (auth/authenticate.ts) — what the gateway runs: verified tokens remembered until `exp`, revocation checked (cached) on every request',
  'session-uncached': 'the same, revocation check always from the database',
  'jws-only':
    "jose `jwtVerify` with the public key alone (no key ring, no revocation): the signature's floor",
  'first-use':
    "a token's first request on a replica: `verifyAccessToken` without the authenticator's memory of verified tokens",
};

interface RoundResult {
  round: number;
  scenario: ScenarioId;
  position: number;
  iterations: number;
  us: { p50: number; p90: number; p99: number; mean: number };
  /** Revocation queries the database answered during this measurement. */
  dbQueries: number;
}

const ISSUER = 'https://gateway.bench.invalid';
const verifyOptions = { issuer: ISSUER, audience: ISSUER, clockToleranceS: 30 };

async function main(): Promise<void> {
  const loadAvgStart = os.loadavg();
  const store = await createStore(args.database, { logger: silentLogger });
  let dbQueries = 0;
  const countingStore = {
    ...store,
    query: <T>(sql: string, params?: unknown[]) => {
      if (sql.includes('FROM sessions WHERE id')) dbQueries++;
      return store.query<T>(sql, params);
    },
  } as typeof store;
  try {
    await migrate(store, { logger: silentLogger });
    const kek = createKek(randomBytes(32).toString('base64url'));
    const keyring = createKeyRing(store, kek, { accessTokenTtlS: 3600 });
    await keyring.refresh();
    const sessions = createSessionManager(store, kek, { refreshTokenTtlS: 86400 });
    const cached = createRevocation(countingStore);
    const uncached = createRevocation(countingStore, { ttlMs: 0 });

    // Tokens as the token endpoint issues them, for `sessionCount` sessions with typical claims.
    const tokens: string[] = [];
    for (let i = 0; i < sessionCount; i++) {
      const { sessionId } = await sessions.createSession({
        subject: `user-${i}`,
        email: `user-${i}@example.com`,
        name: `User ${i}`,
        groups: ['engineering', 'ai-users', `team-${i % 20}`],
        idpIssuer: 'https://idp.bench.invalid',
        idpSubject: `idp-${i}`,
        ttlS: 86400,
      });
      const session = await sessions.getSession(sessionId);
      if (!session) throw new Error('session vanished');
      tokens.push(
        (
          await issueAccessToken(
            keyring,
            { issuer: ISSUER, audience: ISSUER, ttlS: 3600 },
            sessionPrincipal(session),
          )
        ).token,
      );
    }
    const sessionHeaders = tokens.map((t) => ({ authorization: `Bearer ${t}` }));

    const staticTokens = Array.from({ length: staticCount }, (_, i) => ({
      token: `tok_bench_${i}_${randomBytes(16).toString('hex')}`,
      subject: `dev-${i}`,
      email: `dev-${i}@example.com`,
    }));
    const statics = createStaticTokenAuthenticator(staticTokens);
    const staticHeaders = { authorization: `Bearer ${staticTokens[staticTokens.length - 1]?.token}` };

    // The signature floor: the active key's public half, straight into jose.
    const kid = JSON.parse(
      Buffer.from((tokens[0] as string).split('.')[0] as string, 'base64url').toString(),
    ).kid;
    const publicKey = await keyring.verificationKey(kid);
    if (!publicKey) throw new Error('no verification key');

    const authenticator = createAuthenticator({
      staticTokens: [],
      accessTokens: { keyring, revocation: cached, ...verifyOptions },
    });

    let cursor = 0;
    const calls: Record<ScenarioId, () => Promise<unknown>> = {
      static: async () => statics.authenticate(staticHeaders),
      session: async () =>
        authenticator.authenticate(
          sessionHeaders[cursor++ % sessionHeaders.length] as { authorization: string },
        ),
      'session-uncached': async () => {
        const headers = sessionHeaders[cursor++ % sessionHeaders.length] as { authorization: string };
        const [credential] = presentedCredentials(headers);
        return verifyAccessToken(keyring, uncached, credential as string, verifyOptions);
      },
      'jws-only': async () => {
        const headers = sessionHeaders[cursor++ % sessionHeaders.length] as { authorization: string };
        const [credential] = presentedCredentials(headers);
        return jwtVerify(credential as string, publicKey, {
          algorithms: ['ES256'],
          issuer: ISSUER,
          audience: ISSUER,
          typ: 'at+jwt',
        });
      },
      'first-use': async () => {
        const headers = sessionHeaders[cursor++ % sessionHeaders.length] as { authorization: string };
        const [credential] = presentedCredentials(headers);
        return verifyAccessToken(keyring, cached, credential as string, verifyOptions);
      },
    };

    async function measure(id: ScenarioId, n: number): Promise<{ samples: number[]; queries: number }> {
      const samples = new Array<number>(n);
      const call = calls[id];
      const before = dbQueries;
      for (let i = 0; i < n; i++) {
        const t0 = process.hrtime.bigint();
        await call();
        samples[i] = Number(process.hrtime.bigint() - t0) / 1000;
      }
      return { samples, queries: dbQueries - before };
    }

    // Warm-up: JIT, key import caches, the revocation cache.
    for (const id of SCENARIOS) await measure(id, Math.min(iterations, 3000));

    const results: RoundResult[] = [];
    for (let round = 0; round < rounds; round++) {
      const order = SCENARIOS.map((_, i) => SCENARIOS[(i + round) % SCENARIOS.length] as ScenarioId);
      for (const [position, id] of order.entries()) {
        const { samples, queries } = await measure(id, iterations);
        const sorted = [...samples].sort((a, b) => a - b);
        results.push({
          round,
          scenario: id,
          position,
          iterations,
          us: {
            p50: percentileSorted(sorted, 50),
            p90: percentileSorted(sorted, 90),
            p99: percentileSorted(sorted, 99),
            mean: samples.reduce((a, b) => a + b, 0) / samples.length,
          },
          dbQueries: queries,
        });
        process.stderr.write(
          `round ${round + 1}/${rounds} ${id}: p50 ${percentileSorted(sorted, 50).toFixed(1)} µs, ${queries} db queries\n`,
        );
      }
    }

    const pick = (id: ScenarioId, round: number) =>
      results.find((r) => r.scenario === id && r.round === round);
    const summary = Object.fromEntries(
      SCENARIOS.map((id) => {
        const rs = results.filter((r) => r.scenario === id);
        const added = (q: 'p50' | 'p99') =>
          median(
            Array.from({ length: rounds }, (_, round) => {
              const a = pick(id, round);
              const b = pick('static', round);
              return a && b ? a.us[q] - b.us[q] : null;
            }),
          );
        return [
          id,
          {
            description: DESCRIPTIONS[id],
            us: {
              p50: median(rs.map((r) => r.us.p50)),
              p90: median(rs.map((r) => r.us.p90)),
              p99: median(rs.map((r) => r.us.p99)),
              mean: median(rs.map((r) => r.us.mean)),
            },
            addedOverStaticUs: id === 'static' ? null : { p50: added('p50'), p99: added('p99') },
            dbQueriesPerRound: median(rs.map((r) => r.dbQueries)),
          },
        ];
      }),
    ) as Record<
      ScenarioId,
      {
        description: string;
        us: { p50: number | null; p90: number | null; p99: number | null; mean: number | null };
        addedOverStaticUs: { p50: number | null; p99: number | null } | null;
        dbQueriesPerRound: number | null;
      }
    >;
    const addedP50 = summary.session.addedOverStaticUs?.p50 ?? null;
    const target = addedP50 === null ? 'n/a' : addedP50 < TARGET_ADDED_US ? 'met' : 'not met';

    const stamp = runStamp();
    const gitCommit = spawnSync('git', ['rev-parse', 'HEAD'], { cwd: repoRoot, encoding: 'utf8' });
    const machine = {
      cpuModel: os.cpus()[0]?.model ?? 'unknown',
      cores: os.availableParallelism(),
      node: process.version,
      kernel: os.release(),
      loadAvgStart,
      loadAvgEnd: os.loadavg(),
    };
    const database = args.database.startsWith('pglite:') ? args.database : 'postgres (--database)';
    const report = {
      kind: 'session-verify',
      stamp,
      gitCommit: gitCommit.status === 0 ? gitCommit.stdout.trim() : null,
      machine,
      parameters: { rounds, iterations, sessions: sessionCount, staticTokens: staticCount, database, quick },
      targetAddedP50Us: TARGET_ADDED_US,
      target,
      summary,
      results,
    };

    const f = (v: number | null | undefined) => (v === null || v === undefined ? 'n/a' : v.toFixed(1));
    const signed = (v: number | null | undefined) =>
      v === null || v === undefined ? 'n/a' : `${v >= 0 ? '+' : '−'}${Math.abs(v).toFixed(1)}`;
    const md = `# Session verification cost — ${stamp}

${machine.cpuModel}, ${machine.cores} cores, Node ${machine.node}, Linux ${machine.kernel}; load average at start ${loadAvgStart.map((l) => l.toFixed(2)).join(' ')}.
Commit \`${report.gitCommit?.slice(0, 12) ?? 'unknown'}\`. In-process, concurrency 1, ${rounds} round(s) × ${iterations} calls per scenario after a warm-up; ${sessionCount} distinct sessions round robin; revocation database ${database}. Figures are medians over rounds.

| scenario | what runs | p50 µs | p90 µs | p99 µs | mean µs | added p50 over static | DB queries / round |
|---|---|---:|---:|---:|---:|---:|---:|
${SCENARIOS.map((id) => {
  const s = summary[id];
  return `| \`${id}\` | ${s.description} | ${f(s.us.p50)} | ${f(s.us.p90)} | ${f(s.us.p99)} | ${f(s.us.mean)} | ${s.addedOverStaticUs ? signed(s.addedOverStaticUs.p50) : '—'} | ${f(s.dbQueriesPerRound)} |`;
}).join('\n')}

Target (issue 3): session verification adds < ${TARGET_ADDED_US} µs median per request → **${target}** (${signed(addedP50)} µs). Reported, never asserted.
`;
    mkdirSync(args.out, { recursive: true });
    const base = freeResultBase(args.out, `${stamp}-session-verify${quick ? '-quick' : ''}`);
    writeFileSync(`${base}.json`, `${JSON.stringify(report, null, 2)}\n`);
    writeFileSync(`${base}.md`, md);
    console.log(md);
    console.log(`written: ${relative(repoRoot, `${base}.json`)}, ${relative(repoRoot, `${base}.md`)}`);
  } finally {
    await store.close();
  }
}

await main();
