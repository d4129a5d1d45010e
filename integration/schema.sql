-- 系统对接 Integration: the outbox (发件箱) of everything sent to a partner
-- and its delivery log. Idempotent DDL, applied at every start.
CREATE SCHEMA IF NOT EXISTS integration;

CREATE TABLE IF NOT EXISTS integration.outbox (
    id              bigserial PRIMARY KEY,
    partner         text NOT NULL,          -- a partner of config/integration.yaml (egov, province, ...)
    kind            text NOT NULL,          -- callback, csw-insert, csw-update, csw-delete, upload
    idempotency_key text NOT NULL,          -- sent as the Idempotency-Key header
    url             text NOT NULL,
    content_type    text NOT NULL,
    body            bytea NOT NULL,
    state           text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sent', 'dead')),
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),  -- also the lease of a claimed message
    last_error      text,
    created         timestamptz NOT NULL DEFAULT now(),
    sent_at         timestamptz,
    -- one message per key: a second enqueue of the same key is no second delivery
    UNIQUE (partner, idempotency_key)
);
CREATE INDEX IF NOT EXISTS outbox_due ON integration.outbox (next_attempt_at) WHERE state = 'pending';

CREATE TABLE IF NOT EXISTS integration.delivery (
    id          bigserial PRIMARY KEY,
    message_id  bigint NOT NULL REFERENCES integration.outbox (id) ON DELETE CASCADE,
    attempt     integer NOT NULL,
    at          timestamptz NOT NULL DEFAULT now(),
    worker      text NOT NULL,              -- host:pid of the gateway worker (or the CLI) that tried
    http_status integer,
    error       text,
    duration_ms double precision NOT NULL
);
CREATE INDEX IF NOT EXISTS delivery_message ON integration.delivery (message_id, attempt);

-- 省级平台 what the provincial CSW has of ours: a record's last pushed
-- form (its SHA-256), so a change or a removal is pushed once
CREATE TABLE IF NOT EXISTS integration.province_record (
    identifier text PRIMARY KEY,
    sha256     text NOT NULL,
    pushed_at  timestamptz NOT NULL DEFAULT now()
);

-- 成果上报 uploads of published plan versions to the province, one row
-- each: its manifest and where it stands
CREATE TABLE IF NOT EXISTS integration.upload (
    id            bigserial PRIMARY KEY,
    plan_version  text NOT NULL,
    submission_id bigint NOT NULL,
    message_id    bigint REFERENCES integration.outbox (id) ON DELETE SET NULL,
    state         text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sent', 'accepted', 'rejected')),
    reason        text,                     -- the province's, when it rejects
    manifest      jsonb NOT NULL,
    created       timestamptz NOT NULL DEFAULT now(),
    updated       timestamptz NOT NULL DEFAULT now()
);
