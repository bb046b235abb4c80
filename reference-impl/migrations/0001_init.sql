-- 0001: migration bookkeeping and the per-request inference log.
CREATE TABLE IF NOT EXISTS ocg_schema_migrations (
  version    integer     PRIMARY KEY,
  name       text        NOT NULL,
  checksum   text        NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now()
);

-- One row per inference or count_tokens request, admitted or refused.
CREATE TABLE inference_requests (
  request_id    text        PRIMARY KEY,
  subject       text        NULL,
  model         text        NULL,
  stream        boolean     NULL,
  upstream      text        NULL,
  status        integer     NOT NULL,
  error_type    text        NULL,
  started_at    timestamptz NOT NULL,
  duration_ms   integer     NOT NULL,
  input_tokens  integer     NULL,
  output_tokens integer     NULL
);

CREATE INDEX inference_requests_started_at_idx ON inference_requests (started_at);
CREATE INDEX inference_requests_subject_started_at_idx ON inference_requests (subject, started_at);
