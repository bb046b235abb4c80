/**
 * The `auth.oidc` configuration: which IdP the gateway trusts as an OpenID Connect relying party, and how the IdP's
 * claims map to the gateway's identity (SESSION-9, SESSION-10).
 *
 * The JSON Schema (`config/config.schema.json`, `auth.oidc`) fills in defaults; `checkOidcConfig` adds the checks a
 * schema cannot express (plain HTTP only on loopback, reserved authorization parameters).
 */
import { isIP } from 'node:net';

export type GroupsOverage = 'deny' | 'no_groups';
export type TokenEndpointAuthMethod = 'client_secret_post' | 'client_secret_basic' | 'none';

export interface OidcClaimNames {
  /** Claim holding the email address. Default `email`. */
  email: string;
  /** Claim holding the display name. Default `name`. */
  name: string;
  /** Claim holding the group list (an array of strings, or one string). Default `groups`. */
  groups: string;
}

/** `auth.oidc` after schema defaults. */
export interface OidcConfig {
  issuer: string;
  clientId: string;
  /** Resolved from a secret reference; absent for a public client. */
  clientSecret?: string;
  /** Default: `client_secret_post` with a secret, `none` without. */
  tokenEndpointAuthMethod?: TokenEndpointAuthMethod;
  /** Space-separated. */
  scopes: string;
  /** Default `<auth.issuer>/oauth/callback`. */
  redirectUri?: string;
  claims: OidcClaimNames;
  requireEmailVerified: boolean;
  /** Lower-case domains; empty allows every domain. */
  allowedEmailDomains: string[];
  /** Google Workspace: the `hd` claim must equal this. */
  hostedDomain?: string;
  groupsOverage: GroupsOverage;
  /** Extra authorization request parameters (e.g. Google's `access_type=offline`). */
  authorizationParams: Record<string, string>;
}

export const DEFAULT_SCOPES = 'openid email profile groups offline_access';

/** Parameters the gateway sets itself on every authorization request. */
export const RESERVED_AUTHORIZATION_PARAMS = [
  'client_id',
  'redirect_uri',
  'response_type',
  'response_mode',
  'scope',
  'state',
  'nonce',
  'code_challenge',
  'code_challenge_method',
  'request',
  'request_uri',
] as const;

/** Fills in the defaults the schema would (for callers that build a config in code, e.g. tests). */
export function withOidcDefaults(
  input: Partial<OidcConfig> & Pick<OidcConfig, 'issuer' | 'clientId'>,
): OidcConfig {
  return {
    scopes: DEFAULT_SCOPES,
    requireEmailVerified: true,
    allowedEmailDomains: [],
    groupsOverage: 'deny',
    authorizationParams: {},
    ...input,
    claims: { email: 'email', name: 'name', groups: 'groups', ...input.claims },
  };
}

/** True for `localhost`, `*.localhost`, 127.0.0.0/8 and `::1`: where plain HTTP cannot be intercepted. */
export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (host === 'localhost' || host.endsWith('.localhost')) return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  if (isIP(host) === 6) return host === '::1' || host === '0:0:0:0:0:0:0:1';
  return false;
}

/** Plain HTTP is accepted only towards loopback; everything else must be HTTPS. */
export function isAcceptableUrl(url: URL): boolean {
  return url.protocol === 'https:' || (url.protocol === 'http:' && isLoopbackHost(url.hostname));
}

/** The redirect URI the gateway registers at the IdP: configured, or `<gateway issuer>/oauth/callback`. */
export function redirectUriFor(oidc: Pick<OidcConfig, 'redirectUri'>, gatewayIssuer: string): string {
  return oidc.redirectUri ?? `${gatewayIssuer.replace(/\/+$/, '')}/oauth/callback`;
}

/**
 * Checks a schema cannot express, as `<field path>: <message>` lines (empty when fine). Never prints a value that
 * could be secret.
 */
export function checkOidcConfig(oidc: OidcConfig, path = '/auth/oidc'): string[] {
  const issues: string[] = [];
  const urlField = (field: string, value: string | undefined) => {
    if (value === undefined) return;
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      issues.push(`${path}/${field}: must be an absolute URL`);
      return;
    }
    if (!isAcceptableUrl(url)) {
      issues.push(`${path}/${field}: must use https:// (plain http:// is accepted only for loopback hosts)`);
    }
    if (url.hash || url.username || url.password) {
      issues.push(`${path}/${field}: must not carry a fragment or credentials`);
    }
  };
  urlField('issuer', oidc.issuer);
  urlField('redirectUri', oidc.redirectUri);
  if (!oidc.scopes.split(/\s+/).includes('openid')) {
    issues.push(`${path}/scopes: must include openid`);
  }
  const method = oidc.tokenEndpointAuthMethod;
  if (method !== undefined && method !== 'none' && !oidc.clientSecret) {
    issues.push(`${path}/clientSecret: is required with tokenEndpointAuthMethod ${method}`);
  }
  for (const name of Object.keys(oidc.authorizationParams)) {
    if ((RESERVED_AUTHORIZATION_PARAMS as readonly string[]).includes(name)) {
      issues.push(`${path}/authorizationParams/${name}: is set by the gateway itself`);
    }
  }
  return issues;
}
