/**
 * The runner's default session: a user of the policy fixture's `developers` group, signed in through the device
 * flow once at the start of a run, whose access token is every case's `ctx.gateway.bearer`. Access tokens are
 * short-lived (the kit asks for 60 s), so the runner refreshes it before a case that could outlive it. A gateway
 * without sign-in keeps the adapter's `bearer` (adapter contract v0).
 */
import type { SpecValidators } from '@ocg/spec';
import { type Browser, createBrowser } from '../browser/index.ts';
import { ConformanceError, fail } from '../errors.ts';
import type { MockIdp, MockIdpUser, MockIdpUserInput } from '../mocks/idp/index.ts';
import { createSignInDriver, type SignInDriver, type TokenSet } from '../signin/driver.ts';
import type { AddressPool } from './addresses.ts';
import { createSpecChecker } from './check.ts';
import { createGatewayClient } from './client.ts';

export interface DefaultSession {
  /** The bearer for cases; throws a case failure when there is none (the default sign-in failed). */
  bearer(): string;
  /** The signed-in user (undefined with the adapter's bearer). */
  readonly user: MockIdpUser | undefined;
  /** Refreshes the access token when it would expire within `withinMs` (plus a margin). */
  ensureFresh(withinMs: number): Promise<void>;
  close(): Promise<void>;
}

export interface DefaultSessionOptions {
  baseUrl: string;
  addresses: AddressPool;
  adapterBearer: string | undefined;
  /** Whether the gateway declares `sign-in` (then the runner signs in, whatever the adapter's bearer). */
  signIn: boolean;
  idp: MockIdp;
  user: MockIdpUserInput;
  validators: SpecValidators;
  log(msg: string): void;
}

/** Refresh when less than this is left after the case's own time limit. */
const MARGIN_MS = 10_000;
/** A case whose limit is longer than this still gets a token refreshed only this early. */
const MAX_LOOKAHEAD_MS = 30_000;

export async function startDefaultSession(options: DefaultSessionOptions): Promise<DefaultSession> {
  const controller = new AbortController();
  const browsers: Browser[] = [];
  const client = createGatewayClient({
    baseUrl: options.baseUrl,
    bearer: () => fail('the default sign-in sends no bearer'),
    checker: createSpecChecker(options.validators),
    signal: controller.signal,
  });
  const driver: SignInDriver = createSignInDriver({
    baseUrl: options.baseUrl,
    client,
    idp: options.idp,
    newBrowser: (o) => {
      const localAddress = o?.localAddress ?? options.addresses.next();
      const b = createBrowser({ ...o, ...(localAddress ? { localAddress } : {}) });
      browsers.push(b);
      return b;
    },
    signal: controller.signal,
  });
  let tokens: TokenSet | undefined;
  let problem: string | undefined;
  let user: MockIdpUser | undefined;
  const closeBrowsers = async () => {
    await Promise.all(browsers.splice(0).map((b) => b.close().catch(() => {})));
  };

  if (options.signIn) {
    user = options.idp.createUser(options.user);
    const started = Date.now();
    try {
      tokens = await driver.signIn(user);
      options.log(`signed in the default user ${user.email} in ${Date.now() - started} ms`);
    } catch (err) {
      problem = `the runner could not sign in its default user (${(err as Error).message})`;
      options.log(problem);
    } finally {
      await closeBrowsers();
    }
  } else if (options.adapterBearer === undefined) {
    problem = 'the gateway declares no sign-in feature and the adapter gave no bearer';
  }

  return {
    get user() {
      return user;
    },
    bearer() {
      if (tokens) return tokens.accessToken;
      // A failed default sign-in falls back to the adapter's bearer: the sign-in cases say what broke, the others
      // still run.
      if (options.adapterBearer !== undefined) return options.adapterBearer;
      throw new ConformanceError(
        'ERR_CASE_FAILED',
        `no bearer for this case: ${problem ?? 'the runner could not sign in its default user'}`,
      );
    },
    async ensureFresh(withinMs) {
      if (!tokens?.refreshToken) return;
      const needed = Math.min(withinMs, MAX_LOOKAHEAD_MS) + MARGIN_MS;
      if (tokens.expiresAt - Date.now() > needed) return;
      try {
        tokens = await driver.refreshTokens(tokens.refreshToken);
      } catch (err) {
        // Keep the old token: the case then fails on it with a 401, and the log says why.
        options.log(`refreshing the default session failed: ${(err as Error).message}`);
      }
    },
    async close() {
      controller.abort(new Error('run finished'));
      await closeBrowsers();
    },
  };
}
