-- 成果管理 plan results management: submissions, checks and the link from a
-- plan version to the submission it was published from. Idempotent.
CREATE TABLE IF NOT EXISTS plan.submission (
    id             bigserial PRIMARY KEY,
    title          text NOT NULL,                 -- 成果名称
    package_name   text NOT NULL,
    package_sha256 char(64) NOT NULL,
    package_path   text NOT NULL,                 -- the file as submitted, under ONEMAP_VAR
    edition        text NOT NULL,                 -- edition of the specification it was checked by
    passed         boolean NOT NULL,
    submitted_by   text NOT NULL,
    submitted_role text,
    submitted_at   timestamptz NOT NULL DEFAULT now(),
    published_as   text                           -- plan_version, once published
);

-- Every check (质检), of a submission or on its own.
CREATE TABLE IF NOT EXISTS plan.qc_run (
    id             bigserial PRIMARY KEY,
    submission_id  bigint REFERENCES plan.submission ON DELETE SET NULL,
    package_name   text NOT NULL,
    package_sha256 char(64) NOT NULL,
    edition        text NOT NULL,
    passed         boolean NOT NULL,
    errors         integer NOT NULL,
    warnings       integer NOT NULL,
    summary        jsonb NOT NULL,
    report_pdf     bytea,
    error_layer    bytea,
    checked_by     text NOT NULL,
    checked_role   text,
    checked_at     timestamptz NOT NULL DEFAULT now()
);

ALTER TABLE plan.plan_version ADD COLUMN IF NOT EXISTS submission_id bigint REFERENCES plan.submission;
CREATE INDEX IF NOT EXISTS qc_run_submission_idx ON plan.qc_run (submission_id);
