-- 0002: the gateway as an OAuth authorization server to clients: signing keys, sessions, refresh tokens and
-- device authorizations (src/session/). Timestamps are written by the gateway (its clock), not by now().

-- Access-token signing keys (ES256). The private JWK is a JWE encrypted with the key-encryption key (KEK).
-- Exactly one key is active (retired_at IS NULL); a retired key verifies tokens until expires_at.
CREATE TABLE signing_keys (
  kid                   text        PRIMARY KEY,
  alg                   text        NOT NULL CHECK (alg = 'ES256'),
  public_jwk            jsonb       NOT NULL,
  private_jwk_encrypted text        NOT NULL,
  created_at            timestamptz NOT NULL,
  activated_at          timestamptz NOT NULL,
  retired_at            timestamptz NULL,
  expires_at            timestamptz NULL,
  CHECK ((retired_at IS NULL) = (expires_at IS NULL))
);
CREATE UNIQUE INDEX signing_keys_one_active_idx ON signing_keys ((true)) WHERE retired_at IS NULL;

-- One row per sign-in. The IdP refresh token (if any) is a JWE encrypted with the KEK.
CREATE TABLE sessions (
  id                          text        PRIMARY KEY,
  subject                     text        NOT NULL,
  email                       text        NULL,
  name                        text        NULL,
  groups                      jsonb       NOT NULL DEFAULT '[]'::jsonb,
  idp_issuer                  text        NOT NULL,
  idp_subject                 text        NOT NULL,
  idp_refresh_token_encrypted text        NULL,
  created_at                  timestamptz NOT NULL,
  refreshed_at                timestamptz NOT NULL,
  expires_at                  timestamptz NOT NULL,
  revoked_at                  timestamptz NULL,
  revoked_reason              text        NULL
);
CREATE INDEX sessions_subject_idx ON sessions (subject);
CREATE INDEX sessions_idp_idx ON sessions (idp_issuer, idp_subject);
CREATE INDEX sessions_expires_at_idx ON sessions (expires_at);

-- Opaque refresh tokens, stored as SHA-256 hex digests; rotated on every use (used_at, replaced_by).
CREATE TABLE refresh_tokens (
  token_hash  text        PRIMARY KEY,
  session_id  text        NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
  created_at  timestamptz NOT NULL,
  expires_at  timestamptz NOT NULL,
  used_at     timestamptz NULL,
  replaced_by text        NULL
);
CREATE INDEX refresh_tokens_session_id_idx ON refresh_tokens (session_id);
CREATE INDEX refresh_tokens_expires_at_idx ON refresh_tokens (expires_at);

-- RFC 8628 device authorizations. The device code is stored as a SHA-256 hex digest; the user code is stored
-- normalised (8 characters, no dash).
CREATE TABLE device_authorizations (
  device_code_hash     text        PRIMARY KEY,
  user_code            text        NOT NULL UNIQUE,
  client_id            text        NOT NULL,
  scope                text        NOT NULL DEFAULT '',
  created_at           timestamptz NOT NULL,
  expires_at           timestamptz NOT NULL,
  interval_s           integer     NOT NULL,
  last_polled_at       timestamptz NULL,
  status               text        NOT NULL DEFAULT 'pending'
                         CHECK (status IN ('pending', 'approved', 'denied', 'consumed')),
  session_id           text        NULL REFERENCES sessions (id) ON DELETE CASCADE,
  approved_subject     text        NULL,
  browser_binding_hash text        NULL
);
CREATE INDEX device_authorizations_expires_at_idx ON device_authorizations (expires_at);
