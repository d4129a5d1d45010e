-- One Map database schema. Schemas follow the four top classes of the data
-- directory (数据目录) plus ops. Idempotent: safe to run on every start.
CREATE EXTENSION IF NOT EXISTS postgis;

CREATE SCHEMA IF NOT EXISTS base;        -- 基础现状数据
CREATE SCHEMA IF NOT EXISTS plan;        -- 规划成果数据
CREATE SCHEMA IF NOT EXISTS impl;        -- 规划实施数据
CREATE SCHEMA IF NOT EXISTS supervision; -- 规划监督数据
CREATE SCHEMA IF NOT EXISTS ops;         -- users, tokens, audit
CREATE SCHEMA IF NOT EXISTS jobs;        -- OGC API Processes job store

-- 行政区 admin units: the city, its county-level units and the townships.
CREATE TABLE IF NOT EXISTS base.xzq (
    id      integer PRIMARY KEY,
    xzqdm   varchar(12) NOT NULL UNIQUE,      -- 行政区代码
    xzqmc   text NOT NULL,                    -- 行政区名称
    xzqjb   text NOT NULL CHECK (xzqjb IN ('市', '县', '乡')),  -- 级别 level
    sjxzqdm varchar(12),                      -- 上级行政区代码 parent code
    mj      double precision NOT NULL,        -- 面积 m², ellipsoidal
    geom    geometry(MultiPolygon, 4490) NOT NULL
);

-- 地类图斑 current land use (third national land survey).
CREATE TABLE IF NOT EXISTS base.dltb (
    id      bigint PRIMARY KEY,
    bsm     text NOT NULL,                    -- 标识码
    tbbh    text NOT NULL,                    -- 图斑编号
    dlbm    varchar(6) NOT NULL,              -- 地类编码（三调工作分类）
    dlmc    text NOT NULL,                    -- 地类名称
    tbmj    double precision NOT NULL,        -- 图斑面积 m², ellipsoidal
    zldwdm  varchar(19) NOT NULL,             -- 坐落单位代码
    geom    geometry(MultiPolygon, 4490) NOT NULL
);

-- 地质灾害隐患点 geological hazard points.
CREATE TABLE IF NOT EXISTS base.dzzhd (
    id      integer PRIMARY KEY,
    zhdbh   text NOT NULL,                    -- 灾害点编号
    zhdmc   text NOT NULL,                    -- 灾害点名称
    zhlx    text NOT NULL,                    -- 灾害类型 滑坡/崩塌/泥石流/地面塌陷
    xqdj    text NOT NULL,                    -- 险情等级 小型/中型/大型/特大型
    xzqdm   varchar(12) NOT NULL,
    geom    geometry(Point, 4490) NOT NULL
);

-- 道路中心线 road centre lines (现状道路): lengths on the ellipsoid.
CREATE TABLE IF NOT EXISTS base.dlzxx (
    id      integer PRIMARY KEY,
    dlbh    text NOT NULL,                    -- 道路编号
    dlmc    text NOT NULL,                    -- 道路名称
    dldj    text NOT NULL,                    -- 道路等级 省道/县道/乡道
    cd      double precision NOT NULL,        -- 长度 m, ellipsoidal
    geom    geometry(MultiLineString, 4490) NOT NULL
);

-- Plan versions (规划版本): every plan feature names the version it belongs to
-- and carries that version's validity interval, so past states can be queried.
CREATE TABLE IF NOT EXISTS plan.plan_version (
    plan_version text PRIMARY KEY,
    title        text NOT NULL,
    valid_from   timestamptz NOT NULL,
    valid_to     timestamptz,                 -- NULL: in force
    published_at timestamptz NOT NULL DEFAULT now(),
    published_by text NOT NULL DEFAULT 'system'
);

-- 规划用地用海 planned land use.
CREATE TABLE IF NOT EXISTS plan.ghydyh (
    id           bigint PRIMARY KEY,
    bsm          text NOT NULL,
    ydyhdm       varchar(6) NOT NULL,         -- 用地用海代码（一、二、三级类）
    ydyhmc       text NOT NULL,               -- 用地用海名称
    xzqdm        varchar(12) NOT NULL,
    mj           double precision NOT NULL,
    plan_version text NOT NULL REFERENCES plan.plan_version,
    valid_from   timestamptz NOT NULL,
    valid_to     timestamptz,
    geom         geometry(MultiPolygon, 4490) NOT NULL
);

-- 生态保护红线 ecological protection red line.
CREATE TABLE IF NOT EXISTS plan.stbhhx (
    id           bigint PRIMARY KEY,
    hxbh         text NOT NULL,               -- 红线编号
    hxmc         text NOT NULL,               -- 红线名称
    xzqdm        varchar(12) NOT NULL,
    mj           double precision NOT NULL,
    plan_version text NOT NULL REFERENCES plan.plan_version,
    valid_from   timestamptz NOT NULL,
    valid_to     timestamptz,
    geom         geometry(MultiPolygon, 4490) NOT NULL
);

-- 永久基本农田 permanent basic farmland.
CREATE TABLE IF NOT EXISTS plan.yjjbnt (
    id           bigint PRIMARY KEY,
    bhtbbh       text NOT NULL,               -- 保护图斑编号
    dlbm         varchar(4) NOT NULL,
    xzqdm        varchar(12) NOT NULL,
    mj           double precision NOT NULL,
    plan_version text NOT NULL REFERENCES plan.plan_version,
    valid_from   timestamptz NOT NULL,
    valid_to     timestamptz,
    geom         geometry(MultiPolygon, 4490) NOT NULL
);

-- 城镇开发边界 urban development boundary.
CREATE TABLE IF NOT EXISTS plan.czkfbj (
    id           bigint PRIMARY KEY,
    bjbh         text NOT NULL,               -- 边界编号
    bjmc         text NOT NULL,               -- 边界名称
    xzqdm        varchar(12) NOT NULL,
    mj           double precision NOT NULL,
    plan_version text NOT NULL REFERENCES plan.plan_version,
    valid_from   timestamptz NOT NULL,
    valid_to     timestamptz,
    geom         geometry(MultiPolygon, 4490) NOT NULL
);

-- 历史文化保护线 historic-culture protection line.
CREATE TABLE IF NOT EXISTS plan.lswhbhx (
    id           bigint PRIMARY KEY,
    bhxbh        text NOT NULL,               -- 保护线编号
    bhxmc        text NOT NULL,               -- 保护对象名称
    bhlx         text NOT NULL,               -- 保护类型
    xzqdm        varchar(12) NOT NULL,
    mj           double precision NOT NULL,
    plan_version text NOT NULL REFERENCES plan.plan_version,
    valid_from   timestamptz NOT NULL,
    valid_to     timestamptz,
    geom         geometry(MultiPolygon, 4490) NOT NULL
);

-- 建设项目 construction projects.
CREATE TABLE IF NOT EXISTS impl.jsxm (
    id      integer PRIMARY KEY,
    xmbh    text NOT NULL,                    -- 项目编号
    xmmc    text NOT NULL,                    -- 项目名称
    xmlx    text NOT NULL,                    -- 项目类型
    ydyhdm  varchar(6) NOT NULL,              -- 拟用地用途代码
    jsdw    text NOT NULL,                    -- 建设单位
    pzrq    date,                             -- 批准日期
    xzqdm   varchar(12) NOT NULL,
    mj      double precision NOT NULL,
    geom    geometry(MultiPolygon, 4490) NOT NULL
);

-- Access tokens: only the SHA-256 of a token is stored.
-- Accounts (用户): people sign in with a password (Argon2 hash); system
-- accounts (the e-government system, tools) hold tokens only. `roles` names
-- roles of config/gateway.yaml or ops.role.
CREATE TABLE IF NOT EXISTS ops.account (
    id            serial PRIMARY KEY,
    name          text NOT NULL UNIQUE CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$'),
    display_name  text NOT NULL DEFAULT '',
    department    text NOT NULL DEFAULT '',
    password_hash text,                 -- NULL: no password sign-in (system account)
    system        boolean NOT NULL DEFAULT false,
    active        boolean NOT NULL DEFAULT true,
    roles         text[] NOT NULL DEFAULT '{}',
    failed_logins integer NOT NULL DEFAULT 0,
    locked_until  timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);

-- Roles operators create through the admin API; the defaults are in
-- config/gateway.yaml. permissions: reads, layers, runs, jobs, administers.
CREATE TABLE IF NOT EXISTS ops.role (
    name        text PRIMARY KEY,
    zh          text NOT NULL,
    en          text NOT NULL,
    permissions jsonb NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- One counter, raised by every change to accounts, roles and tokens: each
-- gateway worker compares it per request and reloads roles and drops its
-- sign-in cache when it moved.
CREATE TABLE IF NOT EXISTS ops.access_version (
    only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    version  bigint NOT NULL
);
INSERT INTO ops.access_version (version) VALUES (1) ON CONFLICT DO NOTHING;

-- Access tokens: only the SHA-256 is stored; a token belongs to an account.
CREATE TABLE IF NOT EXISTS ops.token (
    id          serial PRIMARY KEY,
    name        text NOT NULL,
    token_sha256 char(64) NOT NULL UNIQUE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz
);
ALTER TABLE ops.token DROP CONSTRAINT IF EXISTS token_role_check;  -- databases made before roles were data
ALTER TABLE ops.token ADD COLUMN IF NOT EXISTS account_id integer REFERENCES ops.account (id) ON DELETE CASCADE;
ALTER TABLE ops.token ADD COLUMN IF NOT EXISTS expires_at timestamptz;
-- databases made before tokens belonged to accounts: a system account per token name
DO $$ BEGIN
    IF EXISTS (SELECT FROM information_schema.columns
               WHERE table_schema = 'ops' AND table_name = 'token' AND column_name = 'role') THEN
        INSERT INTO ops.account (name, system, roles)
            SELECT DISTINCT ON (name) name, true, ARRAY[role] FROM ops.token ORDER BY name, id DESC
            ON CONFLICT (name) DO NOTHING;
        UPDATE ops.token t SET account_id = a.id FROM ops.account a
            WHERE t.account_id IS NULL AND a.name = t.name;
        ALTER TABLE ops.token DROP COLUMN role;
    END IF;
END $$;
ALTER TABLE ops.token ALTER COLUMN account_id SET NOT NULL;

-- Browser sessions (POST /auth/login): the cookie's SHA-256, the CSRF token
-- the page sends back, the expiry.
CREATE TABLE IF NOT EXISTS ops.session (
    id_sha256   char(64) PRIMARY KEY,
    account_id  integer NOT NULL REFERENCES ops.account (id) ON DELETE CASCADE,
    csrf        text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL
);

-- Audit trail (全过程留痕): every state-changing request and process run.
CREATE TABLE IF NOT EXISTS ops.audit (
    id          bigserial PRIMARY KEY,
    at          timestamptz NOT NULL DEFAULT now(),
    actor       text NOT NULL,
    role        text,
    action      text NOT NULL,
    target      text,
    status      integer,
    input_sha256  char(64),
    output_sha256 char(64),
    detail      jsonb
);

-- The audit trail as a hash chain (tamper-evident): each row carries the hash
-- of the row before it (prev_hash) and its own (row_hash, over the canonical
-- JSON array of its fields, defined once here and used by the writer, the
-- migration and `onemap audit verify`). ops.audit_head names the last row;
-- the writer locks it FOR UPDATE, so concurrent writers (gunicorn workers,
-- process jobs, the CLI) append one after another and never fork the chain,
-- and deleting the last rows shows as a head that names a missing row.
ALTER TABLE ops.audit ADD COLUMN IF NOT EXISTS request_id text;
ALTER TABLE ops.audit ADD COLUMN IF NOT EXISTS prev_hash char(64);
ALTER TABLE ops.audit ADD COLUMN IF NOT EXISTS row_hash char(64);

CREATE OR REPLACE FUNCTION ops.audit_row_hash(a ops.audit) RETURNS text LANGUAGE sql STABLE AS $$
    SELECT encode(sha256(convert_to(jsonb_build_array(
        a.id, to_char(a.at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), a.actor, a.role, a.action,
        a.target, a.status, a.input_sha256, a.output_sha256, a.detail, a.request_id, a.prev_hash)::text,
        'UTF8')), 'hex')
$$;

CREATE TABLE IF NOT EXISTS ops.audit_head (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    last_id   bigint,
    last_hash char(64)
);
INSERT INTO ops.audit_head (singleton) VALUES (true) ON CONFLICT DO NOTHING;

-- Rows written before the chain existed are chained once, in id order (a
-- database with any chained row is left alone: an unchained row there is
-- one the writer did not write, which `onemap audit verify` reports).
DO $$
DECLARE
    r record;
    prev text;
BEGIN
    PERFORM 1 FROM ops.audit_head FOR UPDATE;
    IF EXISTS (SELECT 1 FROM ops.audit WHERE row_hash IS NOT NULL)
       OR NOT EXISTS (SELECT 1 FROM ops.audit) THEN
        RETURN;
    END IF;
    FOR r IN SELECT id FROM ops.audit ORDER BY id LOOP
        UPDATE ops.audit SET prev_hash = prev WHERE id = r.id;
        UPDATE ops.audit a SET row_hash = ops.audit_row_hash(a) WHERE a.id = r.id RETURNING a.row_hash INTO prev;
        UPDATE ops.audit_head SET last_id = r.id, last_hash = prev;
    END LOOP;
END $$;

-- Token buckets of the anonymous rate limit (onemap/core/ratelimit.py):
-- shared by every gateway worker; unlogged, since losing them in a crash
-- only refills them.
CREATE UNLOGGED TABLE IF NOT EXISTS ops.rate_bucket (
    bucket  text PRIMARY KEY,            -- limit and client address
    tokens  double precision NOT NULL,
    updated timestamptz NOT NULL
);

-- Spatial and lookup indexes.
CREATE INDEX IF NOT EXISTS xzq_geom_idx     ON base.xzq     USING gist (geom);
CREATE INDEX IF NOT EXISTS dltb_geom_idx    ON base.dltb    USING gist (geom);
CREATE INDEX IF NOT EXISTS dltb_dlbm_idx    ON base.dltb    (dlbm);
CREATE INDEX IF NOT EXISTS dzzhd_geom_idx   ON base.dzzhd   USING gist (geom);
CREATE INDEX IF NOT EXISTS dlzxx_geom_idx   ON base.dlzxx   USING gist (geom);
CREATE INDEX IF NOT EXISTS ghydyh_geom_idx  ON plan.ghydyh  USING gist (geom);
CREATE INDEX IF NOT EXISTS ghydyh_code_idx  ON plan.ghydyh  (ydyhdm);
CREATE INDEX IF NOT EXISTS ghydyh_valid_idx ON plan.ghydyh  (valid_from, valid_to);
CREATE INDEX IF NOT EXISTS stbhhx_geom_idx  ON plan.stbhhx  USING gist (geom);
CREATE INDEX IF NOT EXISTS yjjbnt_geom_idx  ON plan.yjjbnt  USING gist (geom);
CREATE INDEX IF NOT EXISTS czkfbj_geom_idx  ON plan.czkfbj  USING gist (geom);
CREATE INDEX IF NOT EXISTS lswhbhx_geom_idx ON plan.lswhbhx USING gist (geom);
CREATE INDEX IF NOT EXISTS jsxm_geom_idx    ON impl.jsxm    USING gist (geom);
CREATE INDEX IF NOT EXISTS audit_at_idx     ON ops.audit    (at);
CREATE INDEX IF NOT EXISTS audit_request_idx ON ops.audit    (request_id);

-- Codes of the 2023 classification have up to 6 digits: a database made
-- when they had 4 gets its code columns widened (no rewrite), here and in
-- the domain schemas that call this.
CREATE OR REPLACE FUNCTION ops.widen_varchar(s text, t text, c text, n int) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM information_schema.columns WHERE table_schema = s AND table_name = t
               AND column_name = c AND character_maximum_length < n) THEN
        EXECUTE format('ALTER TABLE %I.%I ALTER COLUMN %I TYPE varchar(%s)', s, t, c, n);
    END IF;
END $$;
SELECT ops.widen_varchar('base', 'dltb', 'dlbm', 6), ops.widen_varchar('plan', 'ghydyh', 'ydyhdm', 6),
       ops.widen_varchar('impl', 'jsxm', 'ydyhdm', 6);
