/**
 * Server-side secrets of a sign-in, kept in the browser only in encrypted form (no table, no per-replica memory:
 * any replica can serve any step).
 *
 * - The anti-forgery token (SESSION-6) is a JWE, made with the KEK, of a hash of the browser's `ocg_csrf` cookie.
 *   A valid token therefore proves the form came from a page this gateway rendered for this very browser: the
 *   "signed double-submit cookie" pattern, with the KEK as the signing secret.
 * - The flow cookie `ocg_device` holds what the callback needs and the browser must not learn or choose: the user
 *   code, the browser-binding secret (`browserSecretFor`; its hash is what `devices.bindBrowser` stores), the PKCE
 *   verifier, `state`, `nonce`
 *   and an expiry. It is a JWE (`dir` + `A256GCM`) bound by its `ctx` header to this purpose, so neither the user
 *   nor anyone else can read or alter it, and a token encrypted for another record does not decrypt as one.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Kek } from '../session/kek.ts';
import { randomToken, sha256Hex } from '../session/util.ts';

const CSRF_CONTEXT = 'verification_csrf';
const FLOW_CONTEXT = 'verification_flow';

export interface Flow {
  /** Normalised user code (no dash). */
  userCode: string;
  /** The secret whose hash binds the device authorization to this browser. */
  browserSecret: string;
  codeVerifier: string;
  state: string;
  nonce: string;
  /** Epoch ms after which the flow is void. */
  expiresAt: number;
}

export function newCsrfSecret(): string {
  return randomToken(32);
}

/**
 * The browser-binding secret of a browser: derived from its `ocg_csrf` cookie, so every request of that browser
 * yields the same one — a double-clicked Continue (whose second request does not carry the first one's flow
 * cookie yet) or a second tab is the same browser, not "another browser". The database keeps only a hash of it
 * (`devices.bindBrowser`), from which the cookie cannot be recovered.
 */
export function browserSecretFor(csrfSecret: string): string {
  return createHash('sha256').update('ocg-browser-binding\0').update(csrfSecret).digest('base64url');
}

export function equalSecrets(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export async function csrfToken(kek: Kek, csrfSecret: string): Promise<string> {
  return kek.encrypt(sha256Hex(csrfSecret), CSRF_CONTEXT);
}

/** True when `token` was made by `csrfToken` for this `csrfSecret` (with the current or a previous KEK). */
export async function verifyCsrfToken(kek: Kek, csrfSecret: string, token: string): Promise<boolean> {
  if (token.length === 0 || token.length > 1024) return false;
  try {
    return equalSecrets(await kek.decrypt(token, CSRF_CONTEXT), sha256Hex(csrfSecret));
  } catch {
    return false;
  }
}

export async function sealFlow(kek: Kek, flow: Flow): Promise<string> {
  return kek.encrypt(
    JSON.stringify({
      uc: flow.userCode,
      bs: flow.browserSecret,
      cv: flow.codeVerifier,
      st: flow.state,
      n: flow.nonce,
      exp: flow.expiresAt,
    }),
    FLOW_CONTEXT,
  );
}

/**
 * The flow in a cookie, or null when it is absent, altered or written with an unknown KEK. An expired flow is
 * returned (callers check `expiresAt`, to tell the user the code expired rather than that nothing is going on).
 */
export async function openFlow(kek: Kek, sealed: string | undefined): Promise<Flow | null> {
  if (!sealed || sealed.length > 4096) return null;
  let raw: unknown;
  try {
    raw = JSON.parse(await kek.decrypt(sealed, FLOW_CONTEXT));
  } catch {
    return null;
  }
  if (typeof raw !== 'object' || raw === null) return null;
  const r = raw as Record<string, unknown>;
  const strings = [r.uc, r.bs, r.cv, r.st, r.n];
  if (!strings.every((s) => typeof s === 'string' && s.length > 0) || typeof r.exp !== 'number') return null;
  return {
    userCode: r.uc as string,
    browserSecret: r.bs as string,
    codeVerifier: r.cv as string,
    state: r.st as string,
    nonce: r.n as string,
    expiresAt: r.exp,
  };
}
