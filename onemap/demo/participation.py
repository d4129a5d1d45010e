"""Publications of the demo city (公示): two plans under notice and one
whose notice has ended, dated from the day of loading so the portal always
shows the first two and never the third. Their areas are townships and a
county of the demo city (public data); stored through the domain's
`publish`, which refuses internal layers."""

from __future__ import annotations

import datetime as dt
import json

import psycopg

from onemap.core.registry import load_layers
from processes.participation.publications import Publication, publish

# (number, title pattern zh / en, unit level and rank, days from today to the start and end, layers)
_PLANS = (
    ("GS-DEMO-001", "{name}控制性详细规划（草案）公示", "Detailed regulatory plan of {name} (draft)",
     "乡", 0, -10, 20, ("GHYDYH", "LSWHBHX")),
    ("GS-DEMO-002", "{name}历史文化保护规划（草案）公示", "Historic and cultural protection plan of {name} (draft)",
     "县", 1, -3, 27, ("LSWHBHX",)),
    ("GS-DEMO-003", "{name}村庄规划公示", "Village plan of {name}", "乡", 5, -60, -30, ("GHYDYH",)),
)


def load(conn: psycopg.Connection, today: dt.date | None = None) -> dict[str, int]:
    """Store the demo publications, in the caller's transaction (again on a
    reload: replaced by number, citizens' comments kept)."""
    today = today or dt.date.today()
    layers = load_layers()
    for number, zh, en, level, rank, start, end, shown in _PLANS:
        name, geometry = conn.execute(
            "SELECT xzqmc, ST_AsGeoJSON(geom) FROM base.xzq WHERE xzqjb = %s ORDER BY xzqdm OFFSET %s LIMIT 1",
            (level, rank)).fetchone()
        publish(conn, Publication(
            gsbh=number, gsmc=zh.format(name=name), gsmc_en=en.format(name=name),
            gsnr=f"公示期内欢迎社会公众对{name}的规划草案提出意见和建议。",
            gsnr_en=f"During the notice period, comments on the draft plan of {name} are welcome.",
            ksrq=today + dt.timedelta(days=start), jzrq=today + dt.timedelta(days=end),
            geometry=json.loads(geometry), layers=shown,
            documents=tuple({"title_zh": f"{layer.title.zh}（OGC API 要素服务）", "title_en": layer.title.en,
                             "url": f"ogc/collections/{layer.id}"} for layer in layers if layer.id in shown)),
            layers)
    return {"supervision.publication": len(_PLANS)}
