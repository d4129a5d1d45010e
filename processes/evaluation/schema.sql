-- 评价结果 evaluation results kept in PostGIS. Idempotent.

-- 城镇建设不适宜区 (collection CZJSBSYQ): the 不适宜 cells of the latest
-- published urban construction suitability raster as polygons, replaced
-- whole in the transaction that publishes a run (processes/evaluation/
-- polygons.py); the compliance check reads it as a notice-level layer.
CREATE TABLE IF NOT EXISTS supervision.czjsbsyq (
    id    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    pjbh  text NOT NULL,                       -- 评价编号 run id
    ffbb  text NOT NULL,                       -- 评价方法版本 method version
    mj    double precision NOT NULL,           -- 面积 m², ellipsoidal
    fbsj  timestamptz NOT NULL DEFAULT now(),  -- 发布时间
    geom  geometry(MultiPolygon, 4490) NOT NULL
);
CREATE INDEX IF NOT EXISTS czjsbsyq_geom_idx ON supervision.czjsbsyq USING gist (geom);
