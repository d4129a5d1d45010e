"""控制性详细规划 of the demo city: plots (KZXXGH) in the towns, derived from
the loaded master plan so the two agree where they overlap.

Every planned construction cell of GHYDYH inside an urban development
boundary (the towns) becomes a plot of the same shape and the same use,
refined to the third level where the classification has one; roads (城镇道
路), reserved land (留白) and water carry no plot conditions and get no plot.
The conditions are drawn, per plot, from the usual ranges of its class with
a generator seeded by the seed and the plot's code, so a reload gives the
same plan. One statement writes them, in the caller's transaction.
"""

from __future__ import annotations

import numpy as np
import psycopg

from onemap.core.landuse import load_classes, names_zh
from onemap.demo.geometry import rng_for

TABLES = ("plan.kzxxgh",)

# Planning conditions by class (longest prefix wins): ranges of the floor-area
# ratio, building density %, height limit m and green ratio %.
CONDITIONS: dict[str, tuple[tuple[float, float], ...]] = {
    "07": ((1.8, 3.0), (22, 30), (45, 100), (30, 35)),       # 居住
    "0702": ((1.0, 2.0), (30, 40), (18, 36), (25, 35)),      # 城镇社区服务设施
    "08": ((1.0, 2.5), (25, 40), (24, 60), (30, 40)),        # 公共管理与公共服务
    "09": ((2.0, 5.0), (35, 50), (50, 120), (20, 25)),       # 商业服务业
    "10": ((1.0, 2.0), (40, 60), (24, 40), (10, 20)),        # 工矿
    "11": ((0.8, 1.5), (40, 55), (24, 30), (10, 15)),        # 仓储
    "1208": ((0.5, 1.5), (20, 40), (15, 24), (15, 25)),      # 交通场站
    "13": ((0.5, 1.2), (25, 40), (15, 24), (25, 35)),        # 公用设施
    "14": ((0.0, 0.1), (0, 5), (6, 12), (65, 80)),           # 绿地与开敞空间
    "15": ((0.5, 1.0), (20, 30), (15, 24), (30, 35)),        # 特殊用地
}
STEPS = (0.1, 1.0, 3.0, 1.0)   # rounding of each condition as plans state them


def conditions_of(code: str) -> tuple[tuple[float, float], ...] | None:
    """The condition ranges of a planning code, or None (no plot)."""
    matches = [p for p in CONDITIONS if code.startswith(p)]
    return CONDITIONS[max(matches, key=len)] if matches else None


def level3(code: str, rng: np.random.Generator) -> str:
    """The code itself, or one of its third-level classes when it has them."""
    children = [c.code for c in load_classes().values() if c.parent == code and c.level == 3]
    return str(rng.choice(children)) if children else code


def load(conn: psycopg.Connection, seed: int) -> dict[str, int]:
    """Replace the demo's detailed-plan plots (after GHYDYH and CZKFBJ are
    loaded), in the caller's transaction."""
    conn.execute("TRUNCATE plan.kzxxgh")
    cells = conn.execute("""
        SELECT g.id, g.ydyhdm, g.xzqdm FROM plan.ghydyh g
        WHERE g.valid_to IS NULL
          AND EXISTS (SELECT 1 FROM plan.czkfbj c WHERE c.valid_to IS NULL
                      AND ST_Intersects(c.geom, ST_PointOnSurface(g.geom)))
        ORDER BY g.xzqdm, g.id""").fetchall()
    names = names_zh()
    rows: dict[str, list] = {k: [] for k in ("gid", "dkbh", "code", "name", "rjl", "jzmd", "jzxg", "ldl")}
    numbers: dict[str, int] = {}
    for gid, code, xzqdm in cells:
        ranges = conditions_of(code)
        if ranges is None:
            continue
        numbers[xzqdm] = numbers.get(xzqdm, 0) + 1
        dkbh = f"{xzqdm}KG{numbers[xzqdm]:04d}"
        rng = rng_for(seed, "kzxxgh", dkbh)
        use = level3(code, rng)
        values = [round(rng.uniform(lo, hi) / step) * step for (lo, hi), step in zip(ranges, STEPS, strict=True)]
        for key, value in zip(rows, (gid, dkbh, use, names[use], *[round(v, 2) for v in values]), strict=True):
            rows[key].append(value)
    count = conn.execute("""
        INSERT INTO plan.kzxxgh (id, bsm, dkbh, ydyhdm, ydyhmc, rjl, jzmd, jzxg, ldl, xzqdm, mj,
                                 plan_version, valid_from, valid_to, geom)
        SELECT row_number() OVER (ORDER BY v.dkbh), v.dkbh, v.dkbh, v.code, v.name, v.rjl, v.jzmd, v.jzxg, v.ldl,
               g.xzqdm, g.mj, g.plan_version, g.valid_from, g.valid_to, g.geom
        FROM unnest(%s::bigint[], %s::text[], %s::text[], %s::text[], %s::float8[], %s::float8[], %s::float8[],
                    %s::float8[]) AS v(gid, dkbh, code, name, rjl, jzmd, jzxg, ldl)
        JOIN plan.ghydyh g ON g.id = v.gid""", list(rows.values())).rowcount
    return {"plan.kzxxgh": count}
