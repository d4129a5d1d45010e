-- 公众参与 public participation: publications (公示), comments (意见征询),
-- violation reports (公众监督). Idempotent. Personal data (a commenter's name
-- and phone, a report's photos) stays in these tables: only the views below
-- are public (OGC API Features collections GHGS and GZYJ).

-- 公示 a plan under public notice, from ksrq to jzrq inclusive.
CREATE TABLE IF NOT EXISTS supervision.publication (
    id          serial PRIMARY KEY,
    gsbh        text NOT NULL UNIQUE,                 -- 公示编号
    gsmc        text NOT NULL,                        -- 公示名称 (zh)
    gsmc_en     text NOT NULL,
    gsnr        text NOT NULL DEFAULT '',             -- 公示说明 (zh)
    gsnr_en     text NOT NULL DEFAULT '',
    ksrq        date NOT NULL,                        -- 开始日期
    jzrq        date NOT NULL,                        -- 截止日期
    documents   jsonb NOT NULL DEFAULT '[]',          -- [{title_zh, title_en, url}]
    layers      text[] NOT NULL DEFAULT '{}',         -- the plan's public layers (registry ids)
    geom        geometry(MultiPolygon, 4490) NOT NULL,
    CHECK (jzrq >= ksrq)
);

-- 状态 draft (staff still writing it), published (shown within its dates),
-- withdrawn (撤回: gone from the portal at once); earlier rows were published.
ALTER TABLE supervision.publication ADD COLUMN IF NOT EXISTS zt text NOT NULL DEFAULT 'published'
    CHECK (zt IN ('draft', 'published', 'withdrawn'));

-- 公众意见 a comment: pending until staff approve or reject it.
CREATE TABLE IF NOT EXISTS supervision.public_comment (
    id            serial PRIMARY KEY,
    publication   integer NOT NULL REFERENCES supervision.publication ON DELETE CASCADE,
    yjnr          text NOT NULL,                      -- 意见内容, stored as text
    author_name   text,                               -- never public
    author_phone  text,                               -- never public
    geom          geometry(Point, 4490),
    state         text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'approved', 'rejected')),
    dfnr          text,                               -- 答复内容
    tjsj          timestamptz NOT NULL DEFAULT now(), -- 提交时间
    moderated_by  text,
    moderated_at  timestamptz
);
CREATE INDEX IF NOT EXISTS public_comment_publication ON supervision.public_comment (publication, state);

-- 违法线索举报 a report; the tracking number is the reporter's only key.
CREATE TABLE IF NOT EXISTS supervision.violation_report (
    id          serial PRIMARY KEY,
    cxbh        text NOT NULL UNIQUE,                 -- 查询编号 tracking number
    jbnr        text NOT NULL,                        -- 举报内容
    geom        geometry(Point, 4490) NOT NULL,
    status      text NOT NULL DEFAULT 'received'
                CHECK (status IN ('received', 'verifying', 'confirmed', 'closed')),
    jbsj        timestamptz NOT NULL DEFAULT now()    -- 举报时间
);

CREATE TABLE IF NOT EXISTS supervision.violation_photo (
    report      integer NOT NULL REFERENCES supervision.violation_report ON DELETE CASCADE,
    position    smallint NOT NULL CHECK (position BETWEEN 1 AND 3),
    media_type  text NOT NULL,
    content     bytea NOT NULL,                       -- re-encoded: no metadata
    PRIMARY KEY (report, position)
);

-- 处理过程 each status a report went through, with the staff's note.
CREATE TABLE IF NOT EXISTS supervision.violation_step (
    id          serial PRIMARY KEY,
    report      integer NOT NULL REFERENCES supervision.violation_report ON DELETE CASCADE,
    status      text NOT NULL,
    note        text NOT NULL DEFAULT '',
    at          timestamptz NOT NULL DEFAULT now(),
    by_whom     text NOT NULL
);

-- The public collections: a publication is listed while it is published and
-- the date is within its notice period (by query, no job removes it); comments are public once
-- approved, without name or phone.
CREATE OR REPLACE VIEW supervision.publication_notice AS
    SELECT id, gsbh, gsmc, gsmc_en, gsnr, gsnr_en, ksrq, jzrq, array_to_string(layers, ',') AS tc, geom
    FROM supervision.publication WHERE zt = 'published' AND current_date BETWEEN ksrq AND jzrq;

CREATE OR REPLACE VIEW supervision.public_comment_approved AS
    SELECT c.id, p.gsbh, c.yjnr, c.dfnr, c.tjsj::date AS tjrq, c.geom
    FROM supervision.public_comment c JOIN supervision.publication p ON p.id = c.publication
    WHERE c.state = 'approved' AND c.geom IS NOT NULL AND p.zt = 'published'
      AND current_date BETWEEN p.ksrq AND p.jzrq;
