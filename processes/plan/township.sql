-- 乡镇级国土空间总体规划 township plans: versions per township (the unit),
-- apart from the city's master plan versions, so publishing one township
-- leaves the master plan and every other township as they are. A feature
-- is in force by its validity interval (onemap.core.inforce) as elsewhere;
-- a new version of a township ends only that township's features.
CREATE TABLE IF NOT EXISTS plan.township_version (
    plan_version   text PRIMARY KEY,
    xzqdm          varchar(9) NOT NULL,           -- 乡镇代码
    title          text NOT NULL,
    valid_from     timestamptz NOT NULL,
    valid_to       timestamptz,
    qc_run         bigint REFERENCES plan.qc_run ON DELETE SET NULL,
    package_sha256 char(64) NOT NULL,
    published_by   text NOT NULL,
    published_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS township_version_unit_idx ON plan.township_version (xzqdm, valid_from);
-- the kept package (plan.submission) a version was published from: what the
-- upload to the province (成果上报) sends
ALTER TABLE plan.township_version ADD COLUMN IF NOT EXISTS submission_id bigint REFERENCES plan.submission;

-- 报批状态 the submission status of each township's plan; a township
-- without a row is 编制中. Every change is in ops.audit (township-status).
CREATE TABLE IF NOT EXISTS plan.township_status (
    xzqdm      varchar(9) PRIMARY KEY,
    status     text NOT NULL CHECK (status IN ('编制中', '已质检', '已上报', '已批复')),
    note       text NOT NULL DEFAULT '',
    changed_by text NOT NULL,
    changed_at timestamptz NOT NULL DEFAULT now()
);

-- The township layers a version carries (config/plan.yaml township.layers).
CREATE TABLE IF NOT EXISTS plan.xz_ghydyh (          -- 乡镇规划用地用海
    id           bigint PRIMARY KEY,
    bsm          text NOT NULL,
    ydyhdm       varchar(6) NOT NULL,
    ydyhmc       text NOT NULL,
    ghdybh       varchar(12) NOT NULL,                -- 村级规划单元
    xzqdm        varchar(9) NOT NULL,
    mj           double precision NOT NULL,
    plan_version text NOT NULL REFERENCES plan.township_version,
    valid_from   timestamptz NOT NULL,
    valid_to     timestamptz,
    geom         geometry(MultiPolygon, 4490) NOT NULL
);
CREATE TABLE IF NOT EXISTS plan.xz_cjghdy (          -- 村级规划单元
    id           bigint PRIMARY KEY,
    ghdybh       varchar(12) NOT NULL,
    ghdymc       text NOT NULL,
    xzqdm        varchar(9) NOT NULL,
    mj           double precision NOT NULL,
    plan_version text NOT NULL REFERENCES plan.township_version,
    valid_from   timestamptz NOT NULL,
    valid_to     timestamptz,
    geom         geometry(MultiPolygon, 4490) NOT NULL
);
CREATE TABLE IF NOT EXISTS plan.xz_czjsbj (          -- 村庄建设边界
    id           bigint PRIMARY KEY,
    bjbh         text NOT NULL,
    czmc         text NOT NULL,
    ghdybh       varchar(12) NOT NULL,
    xzqdm        varchar(9) NOT NULL,
    mj           double precision NOT NULL,
    plan_version text NOT NULL REFERENCES plan.township_version,
    valid_from   timestamptz NOT NULL,
    valid_to     timestamptz,
    geom         geometry(MultiPolygon, 4490) NOT NULL
);
CREATE INDEX IF NOT EXISTS xz_ghydyh_geom_idx ON plan.xz_ghydyh USING gist (geom);
CREATE INDEX IF NOT EXISTS xz_ghydyh_version_idx ON plan.xz_ghydyh (plan_version);
CREATE INDEX IF NOT EXISTS xz_cjghdy_version_idx ON plan.xz_cjghdy (plan_version);
CREATE INDEX IF NOT EXISTS xz_czjsbj_version_idx ON plan.xz_czjsbj (plan_version);
