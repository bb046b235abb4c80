/**
 * Claim mapping (SESSION-10): from the IdP's validated claims (ID token, or userinfo on a refresh) to the gateway's
 * identity, refusing what the configuration does not allow.
 *
 * Rules, in order:
 * 1. `sub` must be a non-empty string: it is the session's subject.
 * 2. With `requireEmailVerified` (the default), the email claim must be present and `email_verified` must be `true`
 *    (the string `"true"` counts, as some IdPs send it so).
 * 3. With `allowedEmailDomains`, the email's domain (after the last `@`, case-insensitive, exact: a subdomain is
 *    another domain) must be listed.
 * 4. With `hostedDomain`, Google's `hd` claim must equal it exactly (case-insensitive). A personal Google account
 *    has no `hd` and is refused.
 * 5. Groups: the configured claim as an array of strings (or one string). An Entra group overage — the groups claim
 *    named in `_claim_names` (distributed claims), or `hasgroups: true` — is never read as "no groups": it is
 *    refused (`groupsOverage: deny`, the default) or signed in with no groups (`no_groups`), which the caller logs.
 */
import type { OidcConfig } from './config.ts';

export interface Identity {
  subject: string;
  email: string | null;
  name: string | null;
  groups: string[];
}

export type ClaimRefusal =
  | 'subject_missing'
  | 'email_not_verified'
  | 'domain_not_allowed'
  | 'hosted_domain_mismatch'
  | 'groups_overage';

export type ClaimMapping =
  | { ok: true; identity: Identity; groupsOverage: boolean }
  | { ok: false; reason: ClaimRefusal; message: string };

type Claims = Readonly<Record<string, unknown>>;

function stringClaim(claims: Claims, name: string): string | null {
  const v = claims[name];
  return typeof v === 'string' && v.length > 0 ? v : null;
}

function hasOverage(claims: Claims, groupsClaim: string): boolean {
  const names = claims._claim_names;
  if (typeof names === 'object' && names !== null && Object.hasOwn(names, groupsClaim)) return true;
  return claims.hasgroups === true || claims.hasgroups === 'true';
}

function groupList(value: unknown): string[] {
  if (typeof value === 'string') return value.length > 0 ? [value] : [];
  if (!Array.isArray(value)) return [];
  return [...new Set(value.filter((g): g is string => typeof g === 'string' && g.length > 0))];
}

export function emailDomain(email: string): string {
  return email.slice(email.lastIndexOf('@') + 1).toLowerCase();
}

/**
 * @example
 * const mapped = mapClaims(tokens.claims() ?? {}, config.auth.oidc);
 * if (!mapped.ok) return renderRefusal(mapped.reason);
 */
export function mapClaims(
  claims: Claims,
  config: Pick<
    OidcConfig,
    'claims' | 'requireEmailVerified' | 'allowedEmailDomains' | 'hostedDomain' | 'groupsOverage'
  >,
): ClaimMapping {
  const subject = stringClaim(claims, 'sub');
  if (subject === null) {
    return { ok: false, reason: 'subject_missing', message: 'The identity provider sent no subject (sub).' };
  }
  const rawEmail = stringClaim(claims, config.claims.email);
  const email = rawEmail?.includes('@') ? rawEmail : null;
  const verified = claims.email_verified === true || claims.email_verified === 'true';
  if (config.requireEmailVerified && (email === null || !verified)) {
    return {
      ok: false,
      reason: 'email_not_verified',
      message:
        email === null
          ? 'The identity provider sent no email address, and this gateway requires a verified one.'
          : 'Your email address is not verified at the identity provider, and this gateway requires a verified one.',
    };
  }
  if (config.allowedEmailDomains.length > 0) {
    const allowed = config.allowedEmailDomains.map((d) => d.toLowerCase());
    if (email === null || !allowed.includes(emailDomain(email))) {
      return {
        ok: false,
        reason: 'domain_not_allowed',
        message:
          email === null
            ? 'The identity provider sent no email address, and this gateway admits only some email domains.'
            : `Accounts of the domain ${emailDomain(email)} may not sign in to this gateway.`,
      };
    }
  }
  if (config.hostedDomain !== undefined) {
    const hd = stringClaim(claims, 'hd');
    if (hd === null || hd.toLowerCase() !== config.hostedDomain.toLowerCase()) {
      return {
        ok: false,
        reason: 'hosted_domain_mismatch',
        message:
          hd === null
            ? 'This gateway admits only accounts of its organisation; yours is not an organisation account.'
            : 'This gateway admits only accounts of its organisation; yours belongs to another one.',
      };
    }
  }
  const overage = hasOverage(claims, config.claims.groups) && claims[config.claims.groups] === undefined;
  if (overage && config.groupsOverage === 'deny') {
    return {
      ok: false,
      reason: 'groups_overage',
      message:
        'You are a member of too many groups for the identity provider to list them in the sign-in token, and this gateway refuses to sign you in without knowing your groups. Ask an administrator.',
    };
  }
  return {
    ok: true,
    identity: {
      subject,
      email,
      name: stringClaim(claims, config.claims.name),
      groups: overage ? [] : groupList(claims[config.claims.groups]),
    },
    groupsOverage: overage,
  };
}
