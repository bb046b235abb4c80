/**
 * The verification page and every result page of a sign-in: server-rendered HTML, no script, no framework.
 *
 * Every page carries `data-page`, `data-outcome` and (for failures) `data-error` on its `<main>`, so tests and the
 * conformance kit can assert what happened without parsing prose. Every answer carries headers that keep it out of
 * caches and frames (`Cache-Control: no-store`, CSP `frame-ancestors 'none'`, `X-Frame-Options: DENY`: a framed
 * approval page is a clickjacking target) and `Referrer-Policy: no-referrer` (the page URL may hold a user code,
 * which must not leak to the IdP in `Referer`). The only style is inline and pinned by its hash in the CSP.
 */
import { createHash } from 'node:crypto';
import type { ServerResponse } from 'node:http';

/** Machine-readable failure kinds (`data-error`). */
export type PageError =
  | 'not_configured'
  | 'bad_request'
  | 'invalid_code'
  | 'unknown_code'
  | 'expired_code'
  | 'code_used'
  | 'code_denied'
  | 'other_browser'
  | 'rate_limited'
  | 'cross_site'
  | 'csrf'
  | 'no_flow'
  | 'state_mismatch'
  | 'idp_denied'
  | 'idp_error'
  | 'idp_unavailable'
  | 'id_token_invalid'
  | 'subject_missing'
  | 'email_not_verified'
  | 'domain_not_allowed'
  | 'hosted_domain_mismatch'
  | 'groups_overage'
  | 'user_disabled'
  | 'internal';

interface ErrorInfo {
  status: number;
  title: string;
  text: string;
}

/** Status, title and default explanation of each failure. */
export const PAGE_ERRORS: Record<PageError, ErrorInfo> = {
  not_configured: {
    status: 503,
    title: 'Sign-in is not available',
    text: 'This gateway has no identity provider configured, so nobody can sign in here. Ask its administrator.',
  },
  bad_request: {
    status: 400,
    title: 'Something is missing',
    text: 'The form arrived incomplete. Go back, reload the page and try again.',
  },
  invalid_code: {
    status: 400,
    title: 'That is not a valid code',
    text: 'A code has eight letters, like BCDF-GHJK. Check the code your terminal shows and type it again.',
  },
  unknown_code: {
    status: 404,
    title: 'Unknown code',
    text: 'No sign-in is waiting for this code. Check the code your terminal shows and type it again.',
  },
  expired_code: {
    status: 410,
    title: 'This code has expired',
    text: 'Codes are valid for a few minutes only. Start the sign-in again in your terminal to get a new code.',
  },
  code_used: {
    status: 409,
    title: 'This code was already used',
    text: 'This sign-in is already complete. If it was not you, tell your administrator. To sign in again, start over in your terminal.',
  },
  code_denied: {
    status: 409,
    title: 'This code was denied',
    text: 'This sign-in request was denied. To sign in, start over in your terminal.',
  },
  other_browser: {
    status: 403,
    title: 'Sign-in started in another browser',
    text: 'This code is being used in another browser. Finish the sign-in there, or start over in your terminal.',
  },
  rate_limited: {
    status: 429,
    title: 'Too many attempts',
    text: 'There were too many attempts from your network or for this code. Wait a few minutes, then try again.',
  },
  cross_site: {
    status: 403,
    title: 'Request refused',
    text: 'This form was sent from another website, so it was refused. Open the sign-in link from your terminal directly.',
  },
  csrf: {
    status: 403,
    title: 'Page expired',
    text: 'The form could not be verified (it is too old, or cookies are blocked). Reload the page and try again.',
  },
  no_flow: {
    status: 400,
    title: 'No sign-in in progress in this browser',
    text: 'This browser has no sign-in in progress (it may have taken too long, or the sign-in was started in another browser). Open the link from your terminal again, in this browser.',
  },
  state_mismatch: {
    status: 400,
    title: 'Sign-in could not be matched',
    text: 'The answer from the identity provider does not belong to the sign-in started in this browser. Open the link from your terminal again.',
  },
  idp_denied: {
    status: 403,
    title: 'Sign-in was cancelled',
    text: 'The identity provider did not sign you in (it was cancelled or refused).',
  },
  idp_error: {
    status: 502,
    title: 'The identity provider reported an error',
    text: 'Sign-in failed at the identity provider. Try again; if it keeps failing, tell your administrator.',
  },
  idp_unavailable: {
    status: 502,
    title: 'The identity provider cannot be reached',
    text: 'The gateway could not reach the identity provider. Try again in a minute.',
  },
  id_token_invalid: {
    status: 502,
    title: 'The identity provider’s answer could not be verified',
    text: 'The sign-in token from the identity provider failed verification, so it was not accepted. Tell your administrator.',
  },
  subject_missing: {
    status: 502,
    title: 'The identity provider’s answer is incomplete',
    text: 'The identity provider did not say who you are. Tell your administrator.',
  },
  email_not_verified: {
    status: 403,
    title: 'Email address not verified',
    text: 'Your email address is not verified at the identity provider, and this gateway requires a verified one.',
  },
  domain_not_allowed: {
    status: 403,
    title: 'Account not allowed',
    text: 'Accounts of your email domain may not sign in to this gateway.',
  },
  hosted_domain_mismatch: {
    status: 403,
    title: 'Account not allowed',
    text: 'This gateway admits only accounts of its organisation.',
  },
  groups_overage: {
    status: 403,
    title: 'Your groups could not be determined',
    text: 'You are a member of too many groups for the identity provider to list them, and this gateway does not sign you in without knowing them. Ask an administrator.',
  },
  user_disabled: {
    status: 403,
    title: 'Account not accepted',
    text: 'The identity provider refused to complete the sign-in: your account is probably disabled or was removed there (or the sign-in took too long). Try again; if it keeps failing, ask your administrator.',
  },
  internal: {
    status: 500,
    title: 'Something went wrong',
    text: 'The gateway failed to complete the sign-in. Try again; if it keeps failing, tell your administrator.',
  },
};

const STYLE =
  'body{font-family:system-ui,sans-serif;margin:0;background:#f6f7f9;color:#1d232b}' +
  'main{max-width:32rem;margin:4rem auto;padding:2rem;background:#fff;border-radius:8px;box-shadow:0 1px 3px #0002}' +
  'h1{font-size:1.4rem;margin-top:0}.code{font:700 2rem ui-monospace,monospace;letter-spacing:.15em;text-align:center;margin:1rem 0}' +
  'label{display:block;font-weight:600;margin:1rem 0 .3rem}input[type=text]{font:1.3rem ui-monospace,monospace;width:100%;box-sizing:border-box;padding:.4rem;letter-spacing:.1em;text-transform:uppercase}' +
  '.actions{display:flex;gap:.8rem;margin-top:1.2rem}button{font-size:1rem;padding:.5rem 1rem;border-radius:4px;border:1px solid #888;background:#fff;cursor:pointer}' +
  'button.primary{background:#1f5fbf;border-color:#1f5fbf;color:#fff}.detail{color:#5b6470;font-size:.9rem}.muted{color:#5b6470}';
const STYLE_HASH = createHash('sha256').update(STYLE).digest('base64');

export const PAGE_HEADERS: Readonly<Record<string, string>> = {
  'content-type': 'text/html; charset=utf-8',
  'cache-control': 'no-store',
  pragma: 'no-cache',
  'content-security-policy': `default-src 'none'; style-src 'sha256-${STYLE_HASH}'; frame-ancestors 'none'; base-uri 'none'`,
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

interface Layout {
  title: string;
  page: 'verify' | 'result';
  outcome: 'form' | 'approved' | 'denied' | 'error';
  error?: PageError;
  body: string;
}

function layout(l: Layout): string {
  const error = l.error ? ` data-error="${l.error}"` : '';
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>${escapeHtml(l.title)}</title>
<style>${STYLE}</style>
</head>
<body>
<main id="page" data-page="${l.page}" data-outcome="${l.outcome}"${error}>
<h1>${escapeHtml(l.title)}</h1>
${l.body}
</main>
</body>
</html>
`;
}

export interface RenderedPage {
  status: number;
  html: string;
  headers?: Record<string, string>;
}

export function send(res: ServerResponse, page: RenderedPage, setCookies: readonly string[] = []): void {
  const body = Buffer.from(page.html, 'utf8');
  const headers: Record<string, string | string[]> = {
    ...PAGE_HEADERS,
    ...page.headers,
    'content-length': String(body.length),
  };
  if (setCookies.length > 0) headers['set-cookie'] = [...setCookies];
  res.writeHead(page.status, headers);
  res.end(body);
}

export function sendRedirect(
  res: ServerResponse,
  location: string,
  setCookies: readonly string[] = [],
): void {
  const headers: Record<string, string | string[]> = {
    'cache-control': 'no-store',
    pragma: 'no-cache',
    'referrer-policy': 'no-referrer',
    location,
    'content-length': '0',
  };
  if (setCookies.length > 0) headers['set-cookie'] = [...setCookies];
  res.writeHead(303, headers);
  res.end();
}

export interface VerificationPageInput {
  /** Absolute URL of `POST /device`. */
  action: string;
  csrf: string;
  /** Display form `XXXX-XXXX` of a pre-filled code. */
  userCode: string | null;
  /** What was typed, when it could not be read as a code (re-shown so the user can fix it). */
  typed?: string;
  /** A problem with what was submitted, shown above the form. */
  problem?: { error: PageError; status: number; text: string };
  gatewayName: string;
}

/** `GET /device`: enter or confirm the code. Never submits itself (no script at all). */
export function verificationPage(input: VerificationPageInput): RenderedPage {
  const value = input.userCode ?? input.typed ?? '';
  const confirm = input.userCode
    ? `<p>Check that this code is exactly the one your terminal shows:</p>
<p class="code" id="user-code-display">${escapeHtml(input.userCode)}</p>
<p class="muted">Only continue if you started this sign-in yourself. If you did not, or the codes differ, choose Deny.</p>`
    : '<p>Enter the code your terminal shows.</p>';
  const problem = input.problem
    ? `<p class="problem" role="alert">${escapeHtml(input.problem.text)}</p>`
    : '';
  const body = `${problem}${confirm}
<form id="verify" method="post" action="${escapeHtml(input.action)}">
<input type="hidden" name="csrf" value="${escapeHtml(input.csrf)}">
<label for="user_code">Code</label>
<input type="text" id="user_code" name="user_code" value="${escapeHtml(value)}" required maxlength="32" autocomplete="off" autocapitalize="characters" spellcheck="false" placeholder="BCDF-GHJK">
<div class="actions">
<button type="submit" class="primary" name="action" value="approve">Continue to sign in</button>
<button type="submit" name="action" value="deny">Deny</button>
</div>
</form>`;
  return {
    status: input.problem?.status ?? 200,
    html: layout({
      title: `Sign in to ${input.gatewayName}`,
      page: 'verify',
      outcome: input.problem ? 'error' : 'form',
      ...(input.problem ? { error: input.problem.error } : {}),
      body,
    }),
  };
}

export interface ErrorPageInput {
  error: PageError;
  /** Replaces the default explanation. */
  text?: string;
  /** A technical detail for the administrator (never a secret). */
  detail?: string;
  /** Where "Try again" leads (the verification page, maybe with the code). */
  retryUrl?: string;
  /** A form to deny the pending request (after a cancelled IdP sign-in). */
  deny?: { action: string; csrf: string; userCode: string };
  headers?: Record<string, string>;
}

export function errorPage(input: ErrorPageInput): RenderedPage {
  const info = PAGE_ERRORS[input.error];
  const parts = [`<p id="message">${escapeHtml(input.text ?? info.text)}</p>`];
  if (input.detail) parts.push(`<p class="detail" id="detail">${escapeHtml(input.detail)}</p>`);
  if (input.retryUrl || input.deny) {
    const retry = input.retryUrl ? `<a id="retry" href="${escapeHtml(input.retryUrl)}">Try again</a>` : '';
    const deny = input.deny
      ? `<form id="deny" method="post" action="${escapeHtml(input.deny.action)}">
<input type="hidden" name="csrf" value="${escapeHtml(input.deny.csrf)}">
<input type="hidden" name="user_code" value="${escapeHtml(input.deny.userCode)}">
<button type="submit" name="action" value="deny">Deny this sign-in request</button>
</form>`
      : '';
    parts.push(`<div class="actions">${retry}${deny}</div>`);
  }
  return {
    status: info.status,
    html: layout({
      title: info.title,
      page: 'result',
      outcome: 'error',
      error: input.error,
      body: parts.join('\n'),
    }),
    ...(input.headers ? { headers: input.headers } : {}),
  };
}

export function approvedPage(
  who: { email: string | null; name: string | null },
  gatewayName: string,
): RenderedPage {
  const as = who.email ?? who.name;
  const line = as
    ? `<p id="message">You are signed in to ${escapeHtml(gatewayName)} as <strong id="signed-in-as">${escapeHtml(as)}</strong>.</p>`
    : `<p id="message">You are signed in to ${escapeHtml(gatewayName)}.</p>`;
  return {
    status: 200,
    html: layout({
      title: 'Signed in',
      page: 'result',
      outcome: 'approved',
      body: `${line}\n<p><strong>Return to your terminal</strong>: it continues by itself. You can close this window.</p>`,
    }),
  };
}

export function deniedPage(): RenderedPage {
  return {
    status: 200,
    html: layout({
      title: 'Sign-in denied',
      page: 'result',
      outcome: 'denied',
      body: '<p id="message">The sign-in request was denied; the terminal that asked for it will not be signed in. You can close this window.</p>',
    }),
  };
}
