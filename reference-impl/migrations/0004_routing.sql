-- 0004: which model id at the upstream served a request (ROUTING-15), so a failed-over request is accounted to the
-- target that answered; `upstream` already names the upstream.
ALTER TABLE inference_requests ADD COLUMN upstream_model text NULL;
