/**
 * What one gateway process builds at boot and hands to every handler factory: the store, the session modules, the
 * model catalogue and policies, and the public URL. Built by `gateway.ts`; handler factories take the parts they
 * need, so tests can build a factory from real modules without booting a whole gateway.
 */
import type { GatewayConfig } from './config/load.ts';
import type { Logger } from './log/logger.ts';
import type { ModelCatalogue } from './policy/models.ts';
import type { DeviceAuthorizations } from './session/device-codes.ts';
import type { Kek } from './session/kek.ts';
import type { KeyRing } from './session/keys.ts';
import type { Revocation } from './session/revocation.ts';
import type { SessionManager } from './session/sessions.ts';
import type { Store } from './store/store.ts';

/** The session modules; present only when sign-in is configured (`auth.oidc` + `auth.keyEncryptionKey`). */
export interface SignInServices {
  kek: Kek;
  keyring: KeyRing;
  revocation: Revocation;
  sessions: SessionManager;
  devices: DeviceAuthorizations;
}

export interface GatewayServices {
  config: GatewayConfig;
  logger: Logger;
  store: Store;
  catalogue: ModelCatalogue;
  /** Null when sign-in is not configured (development configs with static tokens only). */
  signIn: SignInServices | null;
  /**
   * The gateway's public base URL without a trailing slash (`auth.issuer`, or the URL it listens on): the RFC 8414
   * issuer, the `iss` of access tokens, the origin of every endpoint it advertises.
   */
  publicUrl(): string;
  /** The `aud` of access tokens (`auth.audience`, default the public URL). */
  audience(): string;
  /** Feature ids (requirements.yaml) this gateway implements with its configuration. */
  features: readonly string[];
}
