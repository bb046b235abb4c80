/**
 * The mock IdP's user directory: seeded random users, their groups and state, and the claims each one yields
 * (including the provider quirks: Entra's group overage, Google's `hd`, unverified email).
 */
import { ConformanceError } from '../../errors.ts';
import type { Rng } from '../../util/rng.ts';

/** What `createUser` accepts; everything left out is drawn from the run's seed. */
export interface MockIdpUserInput {
  /** The `sub` (default: a seeded 24-hex-digit id). */
  subject?: string;
  /** Default: `<first>.<last><n>@example.test` from a seeded name. */
  email?: string;
  /** Default: the seeded `First Last`. */
  name?: string;
  /** Default: 20 seeded letters and digits. */
  password?: string;
  /** Group names/ids (default: none). */
  groups?: readonly string[];
  /** `email_verified` (default true). */
  emailVerified?: boolean;
  /** Google Workspace's hosted-domain claim `hd` (default: none). */
  hd?: string | null;
  /**
   * Entra ID group overage (default false): `groups` is left out of the ID token and userinfo and replaced by
   * `_claim_names: {groups: 'src1'}` and `_claim_sources: {src1: {endpoint}}`; the endpoint answers the groups.
   */
  groupsOverage?: boolean;
}

/** A user of the mock IdP (a snapshot: read it again with `getUser` after a change). */
export interface MockIdpUser {
  readonly subject: string;
  readonly email: string;
  readonly name: string;
  readonly password: string;
  readonly groups: readonly string[];
  readonly emailVerified: boolean;
  readonly hd: string | null;
  readonly groupsOverage: boolean;
  /** True after `disableUser` (until `enableUser`). */
  readonly disabled: boolean;
}

/** The user fields `updateUser` can change. */
export type MockIdpUserPatch = Partial<
  Pick<MockIdpUser, 'email' | 'name' | 'password' | 'groups' | 'emailVerified' | 'hd' | 'groupsOverage'>
>;

const FIRST = [
  'Ada',
  'Grace',
  'Alan',
  'Edsger',
  'Barbara',
  'Donald',
  'Frances',
  'Ken',
  'Radia',
  'Tim',
  'Margaret',
];
const LAST = [
  'Lovelace',
  'Hopper',
  'Turing',
  'Dijkstra',
  'Liskov',
  'Knuth',
  'Allen',
  'Thompson',
  'Perlman',
  'Lee',
];

interface StoredUser {
  subject: string;
  email: string;
  name: string;
  password: string;
  groups: string[];
  emailVerified: boolean;
  hd: string | null;
  groupsOverage: boolean;
  disabled: boolean;
}

function snapshot(user: StoredUser): MockIdpUser {
  return Object.freeze({ ...user, groups: Object.freeze([...user.groups]) });
}

export class UserDirectory {
  readonly #rng: Rng;
  readonly #users = new Map<string, StoredUser>();
  #count = 0;

  constructor(rng: Rng) {
    this.#rng = rng;
  }

  create(input: MockIdpUserInput = {}): MockIdpUser {
    const n = ++this.#count;
    // Draw every seeded value whether or not it is overridden, so one user's overrides never shift the next.
    const subject = this.#rng.hex(24);
    const first = this.#rng.pick(FIRST);
    const last = this.#rng.pick(LAST);
    const password = this.#rng.string(20);
    const user: StoredUser = {
      subject: input.subject ?? subject,
      email: input.email ?? `${first}.${last}${n}@example.test`.toLowerCase(),
      name: input.name ?? `${first} ${last}`,
      password: input.password ?? password,
      groups: [...(input.groups ?? [])],
      emailVerified: input.emailVerified ?? true,
      hd: input.hd ?? null,
      groupsOverage: input.groupsOverage ?? false,
      disabled: false,
    };
    if (this.#users.has(user.subject)) {
      throw new ConformanceError(
        'ERR_MOCK_IDP',
        `mock IdP: a user with subject ${user.subject} exists already`,
      );
    }
    if (this.findByLogin(user.email)) {
      throw new ConformanceError('ERR_MOCK_IDP', `mock IdP: a user with email ${user.email} exists already`);
    }
    this.#users.set(user.subject, user);
    return snapshot(user);
  }

  #require(subject: string): StoredUser {
    const user = this.#users.get(subject);
    if (!user) throw new ConformanceError('ERR_MOCK_IDP', `mock IdP: no user with subject ${subject}`);
    return user;
  }

  get(subject: string): MockIdpUser | undefined {
    const user = this.#users.get(subject);
    return user && snapshot(user);
  }

  list(): MockIdpUser[] {
    return [...this.#users.values()].map(snapshot);
  }

  /** The user that `login` (an email, case-insensitive, or a subject) names. */
  findByLogin(login: string): MockIdpUser | undefined {
    const wanted = login.trim().toLowerCase();
    for (const user of this.#users.values()) {
      if (user.email.toLowerCase() === wanted || user.subject === login.trim()) return snapshot(user);
    }
    return undefined;
  }

  /** The user an access/refresh token may still act for: undefined when deleted or disabled. */
  active(subject: string): MockIdpUser | undefined {
    const user = this.#users.get(subject);
    return user && !user.disabled ? snapshot(user) : undefined;
  }

  update(subject: string, patch: MockIdpUserPatch): MockIdpUser {
    const user = this.#require(subject);
    if (patch.email !== undefined) user.email = patch.email;
    if (patch.name !== undefined) user.name = patch.name;
    if (patch.password !== undefined) user.password = patch.password;
    if (patch.groups !== undefined) user.groups = [...patch.groups];
    if (patch.emailVerified !== undefined) user.emailVerified = patch.emailVerified;
    if (patch.hd !== undefined) user.hd = patch.hd;
    if (patch.groupsOverage !== undefined) user.groupsOverage = patch.groupsOverage;
    return snapshot(user);
  }

  setDisabled(subject: string, disabled: boolean): MockIdpUser {
    const user = this.#require(subject);
    user.disabled = disabled;
    return snapshot(user);
  }

  delete(subject: string): void {
    this.#require(subject);
    this.#users.delete(subject);
  }
}

/** Where the overage endpoint of `subject` lives (Entra points at Microsoft Graph's `getMemberObjects`). */
export function overageEndpoint(issuer: string, subject: string): string {
  return `${issuer}/__ocg/graph/users/${encodeURIComponent(subject)}/getMemberObjects`;
}

/** The claims a user yields; oidc-provider filters them by the granted scopes. */
export function userClaims(user: MockIdpUser, issuer: string): Record<string, unknown> {
  const claims: Record<string, unknown> = {
    sub: user.subject,
    email: user.email,
    email_verified: user.emailVerified,
    name: user.name,
  };
  if (user.hd !== null) claims.hd = user.hd;
  if (user.groupsOverage) {
    claims._claim_names = { groups: 'src1' };
    claims._claim_sources = { src1: { endpoint: overageEndpoint(issuer, user.subject) } };
  } else {
    claims.groups = [...user.groups];
  }
  return claims;
}
