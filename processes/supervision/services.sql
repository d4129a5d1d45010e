-- 指标监测服务 the supervision tables as map layers (config/layers.yaml
-- ZBJC, ZBYJ): views, so that every stored value and every warning
-- assessment is served as soon as it is written. A value stands from the
-- start of its year until the next year with a value of the same
-- indicator and unit (valid_from, valid_to: NULL for the latest), so that
-- `datetime` selects a year and without it the collection shows the
-- latest values. Idempotent.

-- the level (green/yellow/red) of a value as last assessed by the warning
-- rules (processes/supervision/warning.py); NULL: not assessed (no target,
-- or stored since)
ALTER TABLE supervision.indicator_value ADD COLUMN IF NOT EXISTS level text
    CHECK (level IN ('green', 'yellow', 'red'));

CREATE OR REPLACE FUNCTION supervision.year_start(year integer) RETURNS timestamptz
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN make_timestamptz(year, 1, 1, 0, 0, 0, 'Asia/Shanghai');

CREATE OR REPLACE FUNCTION supervision.level_zh(level text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN CASE level WHEN 'green' THEN '绿色' WHEN 'yellow' THEN '黄色' WHEN 'red' THEN '红色' ELSE '未评估' END;

-- ZBJC 指标监测值: one feature an indicator × unit × year, with the unit's
-- geometry, the target of the nearest target year and the warning level.
CREATE OR REPLACE VIEW supervision.indicator_map AS
SELECT v.code || '@' || v.xzqdm || '@' || v.period AS id,
       v.code AS zbbm, i.name_zh AS zbmc, i.name_en AS zbmc_en, i.type AS zblx,
       v.xzqdm, u.xzqmc, u.xzqjb, v.period AS jcnd,
       v.value AS zbz, v.unit AS jldw, t.value AS mbz, t.target_year AS mbnd,
       v.level, supervision.level_zh(v.level) AS yjdj,
       v.source AS sjly, v.model AS mx, v.model_version AS mxbb,
       supervision.year_start(v.period) AS valid_from,
       supervision.year_start(lead(v.period) OVER (PARTITION BY v.code, v.xzqdm ORDER BY v.period)) AS valid_to,
       u.geom
FROM supervision.indicator_value v
JOIN supervision.indicator i USING (code)
JOIN base.xzq u USING (xzqdm)
LEFT JOIN LATERAL (SELECT t.value, t.target_year FROM supervision.indicator_target t
                   WHERE t.code = v.code AND t.xzqdm = v.xzqdm AND t.target_year >= v.period
                   ORDER BY t.target_year LIMIT 1) t ON true;

-- ZBYJ 乡镇预警: one feature a township × assessed year, coloured by its
-- worst level (a township is red when any of its indicators is red), with
-- how many indicators are at each level and which are red.
CREATE OR REPLACE VIEW supervision.unit_warning_map AS
WITH assessed AS (
    SELECT v.xzqdm, v.period,
           CASE max(CASE v.level WHEN 'red' THEN 3 WHEN 'yellow' THEN 2 ELSE 1 END)
               WHEN 3 THEN 'red' WHEN 2 THEN 'yellow' ELSE 'green' END AS level,
           count(*) FILTER (WHERE v.level = 'red') AS red_count,
           count(*) FILTER (WHERE v.level = 'yellow') AS yellow_count,
           count(*) FILTER (WHERE v.level = 'green') AS green_count,
           string_agg(v.code, ',' ORDER BY v.code) FILTER (WHERE v.level = 'red') AS red_codes
    FROM supervision.indicator_value v
    WHERE v.level IS NOT NULL
    GROUP BY v.xzqdm, v.period)
SELECT a.xzqdm || '@' || a.period AS id, a.xzqdm, u.xzqmc, u.xzqjb, a.period AS jcnd,
       a.level, supervision.level_zh(a.level) AS yjdj,
       a.red_count, a.yellow_count, a.green_count, a.red_codes,
       supervision.year_start(a.period) AS valid_from,
       supervision.year_start(lead(a.period) OVER (PARTITION BY a.xzqdm ORDER BY a.period)) AS valid_to,
       u.geom
FROM assessed a JOIN base.xzq u USING (xzqdm)
WHERE u.xzqjb = '乡';
