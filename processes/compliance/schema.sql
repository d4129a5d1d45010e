-- 合规性检测记录 compliance check history (collection HGJC; written by
-- processes/compliance/store.py): one row a check, its overlaps, its reports.
CREATE TABLE IF NOT EXISTS supervision.compliance_check (
    id      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    jcbh    text NOT NULL UNIQUE,             -- 检测编号 check id
    ajbh    text,                             -- 案件编号 case id
    xmmc    text,                             -- 项目名称 project name
    ywjd    text NOT NULL,                    -- 业务阶段 business stage
    ydyhdm  varchar(6) NOT NULL,              -- 拟用地用途代码 project use code
    jcjl    text NOT NULL,                    -- 检测结论 verdict
    xmmj    double precision NOT NULL,        -- 项目面积 m², ellipsoidal
    gzjbb   text NOT NULL,                    -- 规则集及版本 rule set and version
    jcsj    timestamptz NOT NULL DEFAULT now(), -- 检测时间
    jcr     text NOT NULL,                    -- 检测人 who ran it
    rwbh    text,                             -- 任务编号 OGC API job id
    srhx    char(64) NOT NULL,                -- 输入哈希 SHA-256 of the inputs
    jghx    char(64) NOT NULL,                -- 结果哈希 SHA-256 of the result (verification)
    result  jsonb NOT NULL,                   -- 检测结果
    geom    geometry(MultiPolygon, 4490) NOT NULL
);
CREATE TABLE IF NOT EXISTS supervision.compliance_overlap (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    check_id   bigint NOT NULL REFERENCES supervision.compliance_check ON DELETE CASCADE,
    rule       text NOT NULL,
    layer      text NOT NULL,
    kind       text NOT NULL,                 -- feature | part
    feature_id bigint,
    verdict    text NOT NULL,
    mj         double precision NOT NULL,
    geom       geometry(Geometry, 4490) NOT NULL
);
CREATE TABLE IF NOT EXISTS supervision.compliance_report (
    check_id  bigint NOT NULL REFERENCES supervision.compliance_check ON DELETE CASCADE,
    format    text NOT NULL CHECK (format IN ('html', 'pdf')),
    content   bytea NOT NULL,
    sha256    char(64) NOT NULL,
    created   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (check_id, format)
);
CREATE INDEX IF NOT EXISTS compliance_check_geom_idx ON supervision.compliance_check USING gist (geom);
CREATE INDEX IF NOT EXISTS compliance_check_ajbh_idx ON supervision.compliance_check (ajbh);
CREATE INDEX IF NOT EXISTS compliance_check_jcsj_idx ON supervision.compliance_check (jcsj);
CREATE INDEX IF NOT EXISTS compliance_overlap_check_idx ON supervision.compliance_overlap (check_id);
SELECT ops.widen_varchar('supervision', 'compliance_check', 'ydyhdm', 6);  -- level-3 use codes
