-- 控制性详细规划地块 KZXXGH: the plots of the regulatory detailed plans with
-- their planning conditions (规划条件), versioned like the other plan layers
-- (plan_version and validity, so `datetime` answers 规划回溯). Idempotent.
CREATE TABLE IF NOT EXISTS plan.kzxxgh (
    id           bigint PRIMARY KEY,
    bsm          text NOT NULL,               -- 标识码
    dkbh         text NOT NULL,               -- 地块编号
    ydyhdm       varchar(6) NOT NULL,         -- 用地用海代码（至三级类）
    ydyhmc       text NOT NULL,               -- 用地用海名称
    rjl          double precision NOT NULL CHECK (rjl >= 0),                  -- 容积率上限
    jzmd         double precision NOT NULL CHECK (jzmd BETWEEN 0 AND 100),    -- 建筑密度上限 %
    jzxg         double precision NOT NULL CHECK (jzxg >= 0),                 -- 建筑限高 m
    ldl          double precision NOT NULL CHECK (ldl BETWEEN 0 AND 100),     -- 绿地率下限 %
    xzqdm        varchar(12) NOT NULL,
    mj           double precision NOT NULL,   -- 面积 m², ellipsoidal
    plan_version text NOT NULL REFERENCES plan.plan_version,
    valid_from   timestamptz NOT NULL,
    valid_to     timestamptz,
    geom         geometry(MultiPolygon, 4490) NOT NULL
);
CREATE INDEX IF NOT EXISTS kzxxgh_geom_idx  ON plan.kzxxgh USING gist (geom);
CREATE INDEX IF NOT EXISTS kzxxgh_valid_idx ON plan.kzxxgh (valid_from, valid_to);
