/**
 * The mock IdP's own sign-in page (oidc-provider's devInteractions are off): GET shows a plain HTML form with
 * `login` and `password` and hidden `uid` and `csrf` fields; POST checks the credentials and finishes the login.
 * Consent is never asked: every client registered through the mock is first-party (see `loadExistingGrant` in
 * ./index.ts), and a consent prompt that still comes up is granted automatically.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type Provider from 'oidc-provider';
import type { UserDirectory } from './users.ts';

/** Why the sign-in page refused a login (also the `data-error` attribute of the page's error paragraph). */
export type LoginRefusal = 'invalid_credentials' | 'account_disabled' | 'csrf' | 'missing_fields';

export interface InteractionDeps {
  provider: Provider;
  users: UserDirectory;
  /** The issuer's path ('' at the root). */
  mount: string;
  record(event: {
    type: 'login' | 'login_refused' | 'login_aborted';
    subject?: string;
    detail?: string;
  }): void;
}

const esc = (text: string): string => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function send(res: ServerResponse, status: number, html: string): void {
  res.statusCode = status;
  res.setHeader('content-type', 'text/html; charset=utf-8');
  res.setHeader('cache-control', 'no-store');
  res.end(html);
}

async function readForm(req: IncomingMessage): Promise<URLSearchParams> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

function sameToken(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** Builds the handler for `<mount>/interaction/<uid>[/login|/abort]`. */
export function createInteractionHandler(deps: InteractionDeps) {
  const { provider, users, mount } = deps;
  const csrfTokens = new Map<string, string>();

  function loginPage(
    uid: string,
    clientId: string,
    loginHint: string,
    refusal?: { code: LoginRefusal; message: string },
  ): string {
    let csrf = csrfTokens.get(uid);
    if (!csrf) {
      csrf = randomBytes(24).toString('base64url');
      csrfTokens.set(uid, csrf);
    }
    const base = `${mount}/interaction/${esc(uid)}`;
    return `<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>Sign in - OCG mock IdP</title></head>
<body>
<h1>Sign in</h1>
<p id="client" data-client-id="${esc(clientId)}">to continue to ${esc(clientId)}</p>
${refusal ? `<p id="error" role="alert" data-error="${refusal.code}">${esc(refusal.message)}</p>\n` : ''}<form id="login" method="post" action="${base}/login" autocomplete="off">
<input type="hidden" name="uid" value="${esc(uid)}">
<input type="hidden" name="csrf" value="${esc(csrf)}">
<label>Email <input type="text" name="login" value="${esc(loginHint)}" autocomplete="username" required></label>
<label>Password <input type="password" name="password" autocomplete="current-password" required></label>
<button type="submit">Sign in</button>
</form>
<form id="abort" method="post" action="${base}/abort">
<input type="hidden" name="uid" value="${esc(uid)}">
<input type="hidden" name="csrf" value="${esc(csrf)}">
<button type="submit">Cancel</button>
</form>
</body>
</html>
`;
  }

  function errorPage(status: number, code: string, message: string): string {
    return `<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>Error - OCG mock IdP</title></head>
<body><h1>Sign-in error</h1><p id="error" data-error="${esc(code)}">${esc(message)}</p><p>HTTP ${status}</p></body>
</html>
`;
  }

  async function grantConsent(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const details = await provider.interactionDetails(req, res);
    const accountId = details.session?.accountId;
    const clientId = String(details.params.client_id);
    const grant = details.grantId
      ? ((await provider.Grant.find(details.grantId)) ?? new provider.Grant({ accountId, clientId }))
      : new provider.Grant({ accountId, clientId });
    const prompt = details.prompt.details as {
      missingOIDCScope?: string[];
      missingOIDCClaims?: string[];
      missingResourceScopes?: Record<string, string[]>;
    };
    if (prompt.missingOIDCScope) grant.addOIDCScope(prompt.missingOIDCScope.join(' '));
    if (prompt.missingOIDCClaims) grant.addOIDCClaims(prompt.missingOIDCClaims);
    for (const [indicator, scopes] of Object.entries(prompt.missingResourceScopes ?? {})) {
      grant.addResourceScope(indicator, scopes.join(' '));
    }
    const grantId = await grant.save();
    await provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
  }

  return async function handleInteraction(
    req: IncomingMessage,
    res: ServerResponse,
    rest: string,
  ): Promise<void> {
    // rest: "<uid>", "<uid>/login" or "<uid>/abort"
    const [uid = '', action = ''] = rest.split('/');
    let details: Awaited<ReturnType<Provider['interactionDetails']>>;
    try {
      details = await provider.interactionDetails(req, res);
    } catch {
      send(
        res,
        400,
        errorPage(400, 'interaction_expired', 'This sign-in request is unknown or has expired.'),
      );
      return;
    }
    if (details.uid !== uid) {
      send(
        res,
        400,
        errorPage(400, 'interaction_mismatch', 'This sign-in request does not belong to this browser.'),
      );
      return;
    }
    const clientId = String(details.params.client_id ?? '');
    const loginHint = typeof details.params.login_hint === 'string' ? details.params.login_hint : '';

    if (req.method === 'GET' && action === '') {
      if (details.prompt.name === 'consent') {
        await grantConsent(req, res);
        return;
      }
      send(res, 200, loginPage(uid, clientId, loginHint));
      return;
    }
    if (req.method !== 'POST' || (action !== 'login' && action !== 'abort')) {
      send(res, 405, errorPage(405, 'method_not_allowed', 'Not allowed.'));
      return;
    }
    const form = await readForm(req);
    const expected = csrfTokens.get(uid);
    if (form.get('uid') !== uid || !expected || !sameToken(form.get('csrf') ?? '', expected)) {
      deps.record({ type: 'login_refused', detail: 'csrf' });
      send(res, 403, errorPage(403, 'csrf', 'The sign-in form was not submitted from this page.'));
      return;
    }
    if (action === 'abort') {
      csrfTokens.delete(uid);
      deps.record({ type: 'login_aborted' });
      await provider.interactionFinished(
        req,
        res,
        { error: 'access_denied', error_description: 'End-User aborted interaction' },
        { mergeWithLastSubmission: false },
      );
      return;
    }
    const login = form.get('login') ?? '';
    const password = form.get('password') ?? '';
    if (!login || !password) {
      deps.record({ type: 'login_refused', detail: 'missing_fields' });
      const refusal = { code: 'missing_fields' as const, message: 'Enter your email and password.' };
      send(res, 400, loginPage(uid, clientId, login, refusal));
      return;
    }
    const user = users.findByLogin(login);
    if (!user || !sameToken(password, user.password)) {
      deps.record({ type: 'login_refused', subject: user?.subject, detail: 'invalid_credentials' });
      const refusal = { code: 'invalid_credentials' as const, message: 'Wrong email or password.' };
      send(res, 401, loginPage(uid, clientId, login, refusal));
      return;
    }
    if (user.disabled) {
      deps.record({ type: 'login_refused', subject: user.subject, detail: 'account_disabled' });
      const refusal = { code: 'account_disabled' as const, message: 'This account is disabled.' };
      send(res, 403, loginPage(uid, clientId, login, refusal));
      return;
    }
    csrfTokens.delete(uid);
    deps.record({ type: 'login', subject: user.subject });
    await provider.interactionFinished(
      req,
      res,
      { login: { accountId: user.subject, amr: ['pwd'] } },
      { mergeWithLastSubmission: false },
    );
  };
}
