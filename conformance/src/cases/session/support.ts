/**
 * Shared pieces of the sign-in cases: probing whether a bearer is accepted, waiting for a revocation to take
 * effect, RFC 6749 error expectations, and a sign-in attempt that reports instead of failing.
 */

import type { Browser, Page } from '../../browser/index.ts';
import { expectThat, fail } from '../../errors.ts';
import type { MockIdpUser } from '../../mocks/idp/index.ts';
import type { CaseContext } from '../../runner/types.ts';
import {
  type DeviceAuthorization,
  describeAnswer,
  describePage,
  type OAuthAnswer,
  redactBody,
} from '../../signin/driver.ts';
import { sleep } from '../support.ts';

/** The model every kit user with a policy may use (the `developers` and `empty-settings` groups allow all). */
export const PROBE_MODEL = 'claude-sonnet-4-5';

export interface BearerProbe {
  status: number;
  /** `error.type` of an Anthropic error envelope. */
  errorType: string | undefined;
  wwwAuthenticate: string | undefined;
}

/**
 * Sends `token` to `POST /v1/messages` (a tiny request) in `Authorization: Bearer` (or `x-api-key`). A 401 means
 * refused; anything else means the gateway took the token (a user without policy gets a 400 for the model).
 */
export async function probeBearer(
  ctx: CaseContext,
  token: string,
  header: 'authorization' | 'x-api-key' = 'authorization',
): Promise<BearerProbe> {
  const res = await ctx.client.send({
    operationId: 'createMessage',
    path: '/v1/messages',
    bearer: header === 'authorization' ? token : null,
    headers: header === 'x-api-key' ? [['x-api-key', token]] : [],
    body: { model: PROBE_MODEL, max_tokens: 1, messages: [{ role: 'user', content: 'probe' }] },
  });
  const text = await res.text();
  let errorType: string | undefined;
  try {
    const body = JSON.parse(text) as { error?: { type?: unknown } };
    errorType = typeof body.error?.type === 'string' ? body.error.type : undefined;
  } catch {
    errorType = undefined;
  }
  return { status: res.status, errorType, wwwAuthenticate: res.headers['www-authenticate'] };
}

/** Fails unless the gateway accepts `token` now. */
export async function expectAccepted(ctx: CaseContext, token: string, what: string): Promise<void> {
  const probe = await probeBearer(ctx, token);
  expectThat(probe.status !== 401, `${what}: the gateway refused it (${probe.status} ${probe.errorType})`);
}

/** Fails unless `probe` is `401 authentication_error` with a `WWW-Authenticate: Bearer` challenge. */
export function expectRefusedProbe(probe: BearerProbe, what: string): void {
  expectThat(
    probe.status === 401 && probe.errorType === 'authentication_error',
    `${what}: expected 401 authentication_error, got ${probe.status} ${probe.errorType ?? ''}`.trim(),
  );
  expectThat(
    /^Bearer\b/i.test(probe.wwwAuthenticate ?? ''),
    `${what}: the 401 carries no WWW-Authenticate: Bearer challenge (got ${JSON.stringify(probe.wwwAuthenticate)})`,
  );
}

/**
 * Probes `token` until the gateway refuses it (401 authentication_error), within `withinMs` (default 5 s, the
 * revocation latency every replica must meet); returns how long it took.
 */
export async function expectRefusedWithin(
  ctx: CaseContext,
  token: string,
  what: string,
  withinMs = 5000,
): Promise<number> {
  const started = Date.now();
  let last: BearerProbe | undefined;
  for (;;) {
    last = await probeBearer(ctx, token);
    const elapsed = Date.now() - started;
    if (last.status === 401) {
      expectRefusedProbe(last, what);
      return elapsed;
    }
    if (elapsed >= withinMs) {
      return fail(
        `${what}: still accepted ${elapsed} ms later (${last.status}); it must be refused within ${withinMs} ms`,
      );
    }
    await sleep(200);
  }
}

/** Fails unless `answer` is the RFC 6749 error `error` with `status` (a list: any of them). */
export function expectOAuthError(
  answer: OAuthAnswer,
  status: number | readonly number[],
  error: string,
  what: string,
): void {
  const statuses = typeof status === 'number' ? [status] : status;
  expectThat(
    statuses.includes(answer.status) && answer.error === error,
    `${what}: expected ${statuses.join(' or ')} {"error":"${error}"}, got ${describeAnswer(answer)}`,
    { body: redactBody(answer.body) },
  );
}

/** Fails unless the answer carries `Cache-Control: no-store`. */
export function expectNoStore(headers: Record<string, string>, what: string): void {
  expectThat(
    /\bno-store\b/i.test(headers['cache-control'] ?? ''),
    `${what}: expected Cache-Control: no-store, got ${JSON.stringify(headers['cache-control'])}`,
  );
}

/** Polls once and fails if the device code yielded tokens (for flows that must not approve). */
export async function expectNotApproved(
  ctx: CaseContext,
  device: DeviceAuthorization,
  what: string,
): Promise<string> {
  const answer = await ctx.oauth.poll(device);
  expectThat(answer.status !== 200, `${what}: the device code was approved and tokens were issued`);
  expectThat(
    answer.error === 'authorization_pending' ||
      answer.error === 'access_denied' ||
      answer.error === 'slow_down',
    `${what}: expected authorization_pending or access_denied, got ${describeAnswer(answer)}`,
    { body: redactBody(answer.body) },
  );
  return answer.error as string;
}

/** The outcome of a sign-in attempt that may legitimately be refused. */
export interface SignInAttempt {
  device: DeviceAuthorization;
  browser: Browser;
  /** The page the browser ended on after the IdP sign-in. */
  result: Page;
}

/** Goes through the browser side of a sign-in without judging the gateway's result page. */
export async function attemptSignIn(ctx: CaseContext, user: MockIdpUser): Promise<SignInAttempt> {
  const device = await ctx.oauth.startDeviceAuthorization();
  const browser = ctx.newBrowser();
  const page = await ctx.oauth.openVerificationPage(browser, device);
  const atIdp = await ctx.oauth.submitVerification(browser, page, { action: 'approve' });
  expectThat(
    new URL(atIdp.url).origin === new URL(ctx.idp.origin).origin,
    `confirming the code did not lead to the IdP's sign-in page: ${describePage(atIdp)}`,
  );
  const result = await ctx.oauth.loginAtIdp(browser, atIdp, user);
  return { device, browser, result };
}

/** The origin of a URL. */
export const originOf = (url: string): string => new URL(url).origin;
