"""Special plans of the demo city (专项规划): transport, education, green
space, water conservancy, energy and health facility sites, taken from the
master plan's parcels of their classes that stay clear of the red line and
the basic farmland, so the demo's
special plans agree with its master plan (check_against_master_plan finds
nothing); one INSERT ... SELECT a kind, in the loader's transaction."""

from __future__ import annotations

import psycopg

from onemap.core.inforce import in_force

TABLES = ("plan.zxgh_jt", "plan.zxgh_jy", "plan.zxgh_ld", "plan.zxgh_sl", "plan.zxgh_ny", "plan.zxgh_ylws",
          "plan.zxgh_lswh")
PER_KIND = 40   # facility sites a kind, at most
# interiors meet: a site that only borders the farmland (a canal between fields) agrees with it
OVERLAP = "T********"
# table -> (code prefix of the master plan's parcels, SQL of the kind's own columns and values)
KINDS = {
    "plan.zxgh_jt": ("12", {"ssmc": "x.xzqmc || CASE WHEN p.ydyhdm LIKE '1202%%' THEN '公路' ELSE '城市道路' END "
                                    "|| row_number() OVER (PARTITION BY x.xzqdm ORDER BY p.id) || '号'",
                            "dldj": "CASE WHEN p.ydyhdm LIKE '1202%%' THEN '国省道' ELSE '城市主干路' END",
                            "hxkd": "CASE WHEN p.ydyhdm LIKE '1202%%' THEN '40' ELSE '30' END"}),
    "plan.zxgh_jy": ("0804", {"ssmc": "x.xzqmc || CASE WHEN p.id %% 2 = 0 THEN '中心小学' ELSE '初级中学' END",
                              "xxlx": "CASE WHEN p.id %% 2 = 0 THEN '小学' ELSE '初中' END",
                              "bjs": "(18 + 6 * (p.id %% 3))::text"}),
    "plan.zxgh_ld": ("14", {"ssmc": "x.xzqmc || CASE WHEN p.ydyhdm LIKE '1402%%' THEN '防护绿地' "
                                    "WHEN p.ydyhdm LIKE '1403%%' THEN '广场' ELSE '公园' END",
                            "ldlx": "CASE WHEN p.ydyhdm LIKE '1402%%' THEN '防护绿地' WHEN p.ydyhdm LIKE '1403%%' "
                                    "THEN '广场' ELSE '综合公园' END",
                            "fwbj": "CASE WHEN p.ydyhdm LIKE '1401%%' THEN '500' ELSE '300' END"}),
    "plan.zxgh_sl": ("1311", {"ssmc": "x.xzqmc || '灌溉干渠' || row_number() OVER (PARTITION BY x.xzqdm ORDER BY p.id) || '号'",
                              "sslx": "'渠道'", "fhbz": "'20年一遇'"}),
    "plan.zxgh_ny": ("1303", {"ssmc": "x.xzqmc || '110kV变电站'", "sslx": "'变电站'", "dydj": "'110kV'"}),
    "plan.zxgh_ylws": ("0806", {"ssmc": "x.xzqmc || CASE WHEN p.id %% 3 = 0 THEN '人民医院' ELSE '卫生院' END",
                                "yljb": "CASE WHEN p.id %% 3 = 0 THEN '二级' ELSE '基层' END",
                                "cws": "CASE WHEN p.id %% 3 = 0 THEN '300' ELSE '40' END"}),
    "plan.zxgh_lswh": ("1504", {"ssmc": "x.xzqmc || '文物古迹'", "bhjb": "'市县级'", "bhlx": "'文物保护单位'"}),
}


def load(conn: psycopg.Connection) -> dict[str, int]:
    counts = {}
    for table, (prefix, own) in KINDS.items():
        kind = table.rsplit("_", 1)[1].upper()
        columns = ", ".join(own)
        values = ", ".join(f"{expr} AS {name}" for name, expr in own.items())
        counts[table] = conn.execute(f"""
            INSERT INTO {table} (id, bsm, ydyhdm, xzqdm, mj, plan_version, valid_from, valid_to, geom, {columns})
            SELECT row_number() OVER (ORDER BY id), 'ZXGH-{kind}-' || lpad((row_number() OVER (ORDER BY id))::text, 4, '0'),
                   ydyhdm, xzqdm, mj, plan_version, valid_from, NULL, geom, {columns}
            FROM (
                SELECT p.id, p.ydyhdm, p.xzqdm, p.mj, p.plan_version, p.valid_from, p.geom, {values}
                FROM plan.ghydyh p JOIN base.xzq x ON x.xzqdm = p.xzqdm
                WHERE p.ydyhdm LIKE '{prefix}%%' AND {in_force(alias='p')}
                  AND NOT EXISTS (SELECT 1 FROM plan.stbhhx s WHERE s.geom && p.geom AND {in_force(alias='s')}
                                  AND ST_Relate(s.geom, p.geom, '{OVERLAP}'))
                  AND NOT EXISTS (SELECT 1 FROM plan.yjjbnt s WHERE s.geom && p.geom AND {in_force(alias='s')}
                                  AND ST_Relate(s.geom, p.geom, '{OVERLAP}'))
                ORDER BY p.id LIMIT %s) s""", (PER_KIND,)).rowcount
    return counts
