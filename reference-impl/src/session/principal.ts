/**
 * Who a request is from, once authenticated: the shared vocabulary of issue 3. A superset of the skeleton's
 * `Principal` in `auth/static-tokens.ts` (subject, email), so a value of this type may be used where that one is.
 */
export interface Principal {
  /** Stable user id: the IdP's `sub`, prefixed by nothing. */
  subject: string;
  email: string | null;
  name: string | null;
  /** IdP group names/ids after claim mapping. */
  groups: string[];
  /** The gateway session the access token belongs to; null for static development tokens. */
  sessionId: string | null;
}
