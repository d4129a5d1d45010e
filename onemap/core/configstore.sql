-- 配置管理 Configuration versions: every content a file of config/ has had
-- through the admin API or the CLI (onemap.core.configstore). Idempotent.
CREATE TABLE IF NOT EXISTS ops.config_version (
    id        bigserial PRIMARY KEY,
    path      text NOT NULL,          -- relative to the configuration directory
    version   integer NOT NULL,       -- 1, 2, ... per path
    label     text,                   -- an operator's name for it, e.g. 2026-rules
    content   bytea NOT NULL,
    sha256    char(64) NOT NULL,
    comment   text NOT NULL DEFAULT '',
    author    text NOT NULL,
    at        timestamptz NOT NULL DEFAULT now(),
    UNIQUE (path, version)
);
CREATE UNIQUE INDEX IF NOT EXISTS config_version_label_idx ON ops.config_version (path, label)
    WHERE label IS NOT NULL;
