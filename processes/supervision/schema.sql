-- 实施监督 supervision: the indicator catalogue (filled from
-- config/indicators/ and from imported official tables), model versions,
-- monitoring values and the annual land-use changes that let a past year be
-- recomputed. Idempotent.

-- 指标项 indicator items: the whole item as data, its key columns beside.
CREATE TABLE IF NOT EXISTS supervision.indicator (
    code        text PRIMARY KEY,             -- 指标编码
    name_zh     text NOT NULL,
    name_en     text NOT NULL,
    unit        text NOT NULL,                -- 计量单位
    type        text NOT NULL CHECK (type IN ('约束性', '预期性', '建议性')),
    direction   text NOT NULL CHECK (direction IN ('higher', 'lower', 'range')),
    model       text,                         -- 计算模型 (NULL: a statistic)
    origin      text NOT NULL CHECK (origin IN ('config', 'import')),
    item        jsonb NOT NULL,               -- everything the item carries
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- 指标体系 membership: system, group (dimension), order.
CREATE TABLE IF NOT EXISTS supervision.indicator_member (
    system      text NOT NULL,
    system_zh   text NOT NULL,
    dimension   text NOT NULL,                -- 维度 / 分组
    code        text NOT NULL REFERENCES supervision.indicator ON DELETE CASCADE,
    position    integer NOT NULL,
    PRIMARY KEY (system, code)
);

-- 指标模型版本 model versions: parameters never change under a version.
CREATE TABLE IF NOT EXISTS supervision.model_version (
    model       text NOT NULL,
    version     integer NOT NULL,
    kind        text NOT NULL,
    params      jsonb NOT NULL,
    active      boolean NOT NULL DEFAULT false,
    created_at  timestamptz NOT NULL DEFAULT now(),
    created_by  text NOT NULL,
    PRIMARY KEY (model, version)
);
CREATE UNIQUE INDEX IF NOT EXISTS model_version_active_idx ON supervision.model_version (model) WHERE active;

-- 监测值 monitoring values: indicator × unit × period (year).
CREATE TABLE IF NOT EXISTS supervision.indicator_value (
    code          text NOT NULL REFERENCES supervision.indicator ON DELETE CASCADE,
    xzqdm         varchar(12) NOT NULL,
    period        integer NOT NULL,           -- 监测年度
    value         double precision NOT NULL,
    unit          text NOT NULL,
    source        text NOT NULL CHECK (source IN ('computed', 'reported', 'imported')),
    model         text,
    model_version integer,
    data_versions jsonb NOT NULL DEFAULT '{}', -- layer -> version / year the value came from
    recorded_at   timestamptz NOT NULL DEFAULT now(),
    recorded_by   text NOT NULL,
    PRIMARY KEY (code, xzqdm, period)
);
CREATE INDEX IF NOT EXISTS indicator_value_period_idx ON supervision.indicator_value (period);

-- 年度变更 annual land-use changes: base.dltb is the current year; a row
-- here says the parcel's class was dlbm_before until the change of `year`,
-- so the land use of any past year is the current one with later changes
-- undone.
CREATE TABLE IF NOT EXISTS supervision.dltb_change (
    dltb_id     bigint NOT NULL,
    year        integer NOT NULL,             -- 变更年度
    dlbm_before varchar(6) NOT NULL,
    dlbm_after  varchar(6) NOT NULL,
    PRIMARY KEY (dltb_id, year)
);
SELECT ops.widen_varchar('supervision', 'dltb_change', 'dlbm_before', 6),
       ops.widen_varchar('supervision', 'dltb_change', 'dlbm_after', 6);

-- 指标目标与分解 targets per unit and target year: the city's target and
-- its allocations to counties and townships (分解下达).
CREATE TABLE IF NOT EXISTS supervision.indicator_target (
    code        text NOT NULL REFERENCES supervision.indicator ON DELETE CASCADE,
    xzqdm       varchar(12) NOT NULL,
    target_year integer NOT NULL,             -- 规划目标年 (2025 近期, 2035 远期)
    value       double precision NOT NULL,
    recorded_by text NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (code, xzqdm, target_year)
);

-- 预警 warnings: one row a raised warning (黄色/红色) with what it was
-- computed from; a state (indicator, unit, period, level) is raised once
-- while it is not closed.
CREATE TABLE IF NOT EXISTS supervision.warning (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    code          text NOT NULL REFERENCES supervision.indicator ON DELETE CASCADE,
    xzqdm         varchar(12) NOT NULL,
    period        integer NOT NULL,
    level         text NOT NULL CHECK (level IN ('yellow', 'red')),
    rule          text NOT NULL,
    value         double precision NOT NULL,
    threshold     double precision NOT NULL,  -- the value at which the level begins
    target        double precision NOT NULL,
    target_year   integer NOT NULL,
    data_versions jsonb NOT NULL,
    state         text NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'acknowledged', 'closed')),
    raised_at     timestamptz NOT NULL DEFAULT now(),
    raised_by     text NOT NULL,
    history       jsonb NOT NULL DEFAULT '[]'  -- [{state, by, at, comment}]
);
CREATE UNIQUE INDEX IF NOT EXISTS warning_state_idx ON supervision.warning (code, xzqdm, period, level)
    WHERE state <> 'closed';
