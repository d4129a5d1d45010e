-- 专项规划 special plans stored as plan layers (config/layers.yaml ZXGH_*,
-- the special-plan edition of the package specification): facility sites
-- with their own fields, versioned with the plan (plan_version, validity)
-- like the master plan's layers, so plan-publish carries them forward.
CREATE TABLE IF NOT EXISTS plan.zxgh_jt (            -- 综合交通专项规划
    id           bigint PRIMARY KEY,
    bsm          text NOT NULL,
    ssmc         text NOT NULL,                      -- 设施名称
    ydyhdm       varchar(6) NOT NULL,
    dldj         text NOT NULL,                      -- 道路等级
    hxkd         text NOT NULL,                      -- 红线宽度（米）
    xzqdm        varchar(12) NOT NULL,
    mj           double precision NOT NULL,
    plan_version text NOT NULL REFERENCES plan.plan_version,
    valid_from   timestamptz NOT NULL,
    valid_to     timestamptz,
    geom         geometry(MultiPolygon, 4490) NOT NULL
);
CREATE TABLE IF NOT EXISTS plan.zxgh_jy (            -- 教育设施专项规划
    id           bigint PRIMARY KEY,
    bsm          text NOT NULL,
    ssmc         text NOT NULL,                      -- 学校名称
    ydyhdm       varchar(6) NOT NULL,
    xxlx         text NOT NULL,                      -- 学校类型
    bjs          text NOT NULL,                      -- 班级数
    xzqdm        varchar(12) NOT NULL,
    mj           double precision NOT NULL,
    plan_version text NOT NULL REFERENCES plan.plan_version,
    valid_from   timestamptz NOT NULL,
    valid_to     timestamptz,
    geom         geometry(MultiPolygon, 4490) NOT NULL
);
CREATE TABLE IF NOT EXISTS plan.zxgh_ld (            -- 绿地系统专项规划
    id           bigint PRIMARY KEY,
    bsm          text NOT NULL,
    ssmc         text NOT NULL,                      -- 绿地名称
    ydyhdm       varchar(6) NOT NULL,
    ldlx         text NOT NULL,                      -- 绿地类型
    fwbj         text NOT NULL,                      -- 服务半径（米）
    xzqdm        varchar(12) NOT NULL,
    mj           double precision NOT NULL,
    plan_version text NOT NULL REFERENCES plan.plan_version,
    valid_from   timestamptz NOT NULL,
    valid_to     timestamptz,
    geom         geometry(MultiPolygon, 4490) NOT NULL
);
CREATE TABLE IF NOT EXISTS plan.zxgh_sl (          -- 水利专项规划
    id           bigint PRIMARY KEY,
    bsm          text NOT NULL,
    ssmc         text NOT NULL,                      -- 设施名称
    ydyhdm       varchar(6) NOT NULL,
    sslx         text NOT NULL,                      -- 设施类型
    fhbz         text NOT NULL,                      -- 防洪标准
    xzqdm        varchar(12) NOT NULL,
    mj           double precision NOT NULL,
    plan_version text NOT NULL REFERENCES plan.plan_version,
    valid_from   timestamptz NOT NULL,
    valid_to     timestamptz,
    geom         geometry(MultiPolygon, 4490) NOT NULL
);
CREATE TABLE IF NOT EXISTS plan.zxgh_ny (          -- 能源专项规划
    id           bigint PRIMARY KEY,
    bsm          text NOT NULL,
    ssmc         text NOT NULL,                      -- 设施名称
    ydyhdm       varchar(6) NOT NULL,
    sslx         text NOT NULL,                      -- 设施类型
    dydj         text NOT NULL,                      -- 电压等级或规模
    xzqdm        varchar(12) NOT NULL,
    mj           double precision NOT NULL,
    plan_version text NOT NULL REFERENCES plan.plan_version,
    valid_from   timestamptz NOT NULL,
    valid_to     timestamptz,
    geom         geometry(MultiPolygon, 4490) NOT NULL
);
CREATE TABLE IF NOT EXISTS plan.zxgh_ylws (        -- 医疗卫生专项规划
    id           bigint PRIMARY KEY,
    bsm          text NOT NULL,
    ssmc         text NOT NULL,                      -- 设施名称
    ydyhdm       varchar(6) NOT NULL,
    yljb         text NOT NULL,                      -- 医疗机构级别
    cws          text NOT NULL,                      -- 床位数
    xzqdm        varchar(12) NOT NULL,
    mj           double precision NOT NULL,
    plan_version text NOT NULL REFERENCES plan.plan_version,
    valid_from   timestamptz NOT NULL,
    valid_to     timestamptz,
    geom         geometry(MultiPolygon, 4490) NOT NULL
);
CREATE TABLE IF NOT EXISTS plan.zxgh_lswh (        -- 历史文化保护专项规划
    id           bigint PRIMARY KEY,
    bsm          text NOT NULL,
    ssmc         text NOT NULL,                      -- 保护对象名称
    ydyhdm       varchar(6) NOT NULL,
    bhjb         text NOT NULL,                      -- 保护级别
    bhlx         text NOT NULL,                      -- 保护类型
    xzqdm        varchar(12) NOT NULL,
    mj           double precision NOT NULL,
    plan_version text NOT NULL REFERENCES plan.plan_version,
    valid_from   timestamptz NOT NULL,
    valid_to     timestamptz,
    geom         geometry(MultiPolygon, 4490) NOT NULL
);
CREATE INDEX IF NOT EXISTS zxgh_jt_geom_idx ON plan.zxgh_jt USING gist (geom);
CREATE INDEX IF NOT EXISTS zxgh_jy_geom_idx ON plan.zxgh_jy USING gist (geom);
CREATE INDEX IF NOT EXISTS zxgh_ld_geom_idx ON plan.zxgh_ld USING gist (geom);
CREATE INDEX IF NOT EXISTS zxgh_jt_valid_idx ON plan.zxgh_jt (valid_from, valid_to);
CREATE INDEX IF NOT EXISTS zxgh_jy_valid_idx ON plan.zxgh_jy (valid_from, valid_to);
CREATE INDEX IF NOT EXISTS zxgh_ld_valid_idx ON plan.zxgh_ld (valid_from, valid_to);
CREATE INDEX IF NOT EXISTS zxgh_sl_geom_idx ON plan.zxgh_sl USING gist (geom);
CREATE INDEX IF NOT EXISTS zxgh_ny_geom_idx ON plan.zxgh_ny USING gist (geom);
CREATE INDEX IF NOT EXISTS zxgh_ylws_geom_idx ON plan.zxgh_ylws USING gist (geom);
CREATE INDEX IF NOT EXISTS zxgh_sl_valid_idx ON plan.zxgh_sl (valid_from, valid_to);
CREATE INDEX IF NOT EXISTS zxgh_ny_valid_idx ON plan.zxgh_ny (valid_from, valid_to);
CREATE INDEX IF NOT EXISTS zxgh_ylws_valid_idx ON plan.zxgh_ylws (valid_from, valid_to);
CREATE INDEX IF NOT EXISTS zxgh_lswh_geom_idx ON plan.zxgh_lswh USING gist (geom);
CREATE INDEX IF NOT EXISTS zxgh_lswh_valid_idx ON plan.zxgh_lswh (valid_from, valid_to);
