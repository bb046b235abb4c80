-- 0003: admin API keys (src/admin/). The secret is never stored: secret_hash is the SHA-256 hex digest of the whole
-- key (`ocg_admin_` + 256 random bits, base64url), shown once at creation. Timestamps are written by the gateway.
CREATE TABLE admin_api_keys (
  id           text        PRIMARY KEY,
  name         text        NOT NULL,
  scope        text        NOT NULL CHECK (scope IN ('read', 'write')),
  secret_hash  text        NOT NULL UNIQUE,
  created_at   timestamptz NOT NULL,
  -- Who created it: 'user:<subject>', 'api_key:<id>' or 'cli'.
  created_by   text        NULL,
  last_used_at timestamptz NULL,
  revoked_at   timestamptz NULL
);
CREATE INDEX admin_api_keys_created_at_idx ON admin_api_keys (created_at DESC, id DESC);

-- The admin session list pages newest first, optionally for one user.
CREATE INDEX sessions_created_at_idx ON sessions (created_at DESC, id DESC);
