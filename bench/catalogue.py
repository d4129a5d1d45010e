"""Benchmark: CSW GetRecords (full text, bbox, both) on a pycsw repository of
10,000 and 100,000 generated records, from 8 concurrent clients, against the
raw PostgreSQL query on the same table; and the gateway's share on the stack's
own catalogue.

    .venv/bin/python bench/catalogue.py           # needs the `make up` stack's database

The records live in benchmark schemas of their own (catalogue_bench_10k,
catalogue_bench_100k), served by a pycsw process of their own (same WSGI
application and settings as the stack's). The 10,000 are generated ISO 19139
documents (catalogue.iso) loaded through pycsw's own parser; the 100,000 are
those 10,000 and nine copies of each, shifted in space, under their own
identifiers (pycsw parses about 50 records/s, so parsing 100,000 would take
half an hour). Schemas are reused by later runs; BENCH_RELOAD=1 rebuilds them.

Each GetRecords asks for the first 10 brief records and the count (as
OWSLib's getrecords2 does); the raw SQL is the same count and the same page
(identifier, title, type, bounding box) through psycopg.
"""

from __future__ import annotations

import os
import random
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import requests
from common import HEADER, ROOT, Result, env_int, run_load, stack_settings

from catalogue import service
from catalogue.config import PycswInstance, write_config
from catalogue.directory import load_directory
from catalogue.iso import to_iso19139
from catalogue.records import CatalogueConfig, MetadataRecord
from onemap.core.daemon import stop_pid
from onemap.core.registry import Text, load_layers
from onemap.stack import free_port

N_REQUESTS = env_int("BENCH_REQUESTS", 400)
CONCURRENCY = 8
DISTINCT = 10_000
COPIES = 9
BATCH = 2_000
HUNAN = (108.8, 24.6, 114.3, 30.1)  # where the generated records lie
SIZES = {"bench10k": ("catalogue_bench_10k", DISTINCT), "bench100k": ("catalogue_bench_100k", DISTINCT * (1 + COPIES))}


def vocabulary() -> list[tuple[str, str]]:
    """Words records are made of: the directory's class names and the layer titles (zh, en)."""
    words = {(c.name.zh, c.name.en) for c in load_directory().classes}
    words |= {(layer.title.zh, layer.title.en) for layer in load_layers()}
    return sorted(words)


def generated_record(n: int, rng: random.Random, words: list[tuple[str, str]], config: CatalogueConfig,
                     ) -> MetadataRecord:
    chosen = rng.sample(words, 3)
    west, south = rng.uniform(HUNAN[0], HUNAN[2] - 0.5), rng.uniform(HUNAN[1], HUNAN[3] - 0.5)
    size = rng.uniform(0.01, 0.5)
    return MetadataRecord(
        identifier=f"bench.{n // BATCH:03d}.{n:06d}", parent=None, scope="dataset", scope_name=Text("图层", "layer"),
        title=Text(f"{chosen[0][0]}（{n:06d}号）", f"{chosen[0][1]} no. {n:06d}"),
        abstract=Text("、".join(w[0] for w in chosen) + f"。编号 BM{n:06d}。", ", ".join(w[1] for w in chosen) + "."),
        keywords_zh=tuple(w[0] for w in chosen), keywords_en=tuple(w[1] for w in chosen),
        topic="planningCadastre", classification="unclassified", access=Text("公开", "public"),
        frequency="asNeeded", lineage=Text("基准测试生成。", "Generated for the benchmark."), contact=config.contact,
        datestamp=datetime(2024, 1, 1, tzinfo=UTC), bbox=(west, south, west + size, south + size))


def count(url: str, schema: str) -> int:
    with psycopg.connect(url) as conn:
        exists = conn.execute("SELECT to_regclass(%s)", (f"{schema}.records",)).fetchone()[0]
        return conn.execute(f"SELECT count(*) FROM {schema}.records").fetchone()[0] if exists else 0


def load_distinct(configs: dict[str, Path], url: str, config: CatalogueConfig) -> None:
    """10,000 generated ISO documents through pycsw's parser, two loaders at a time."""
    words, rng = vocabulary(), random.Random(3)
    batches = [{r.identifier: to_iso19139(r) for r in (generated_record(n, rng, words, config)
                                                       for n in range(start, start + BATCH))}
               for start in range(0, DISTINCT, BATCH)]
    started = time.perf_counter()
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(lambda b: service.load_records(configs["bench10k"], next(iter(b)).rsplit(".", 1)[0] + ".", b),
                      batches))
    print(f"loaded {DISTINCT} records through pycsw's parser in {time.perf_counter() - started:.0f} s")


def copy_shifted(url: str) -> None:
    """catalogue_bench_100k: the 10,000 and nine copies of each, shifted in space."""
    started = time.perf_counter()
    with psycopg.connect(url) as conn:
        columns = [r[0] for r in conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = 'catalogue_bench_10k' "
            "AND table_name = 'records' AND column_name <> 'wkb_geometry' ORDER BY ordinal_position")]
        shifted = {
            "identifier": "identifier || '.c' || n",
            "xml": "replace(xml, identifier, identifier || '.c' || n)",
            # the trigger of pycsw's table derives wkb_geometry from wkt_geometry
            "wkt_geometry": "ST_AsText(ST_Translate(ST_GeomFromText(wkt_geometry, 4326), "
                            "(hashtext(identifier || n) % 100) / 200.0, (hashtext(n || identifier) % 100) / 200.0))",
        }
        target = f"INSERT INTO catalogue_bench_100k.records ({', '.join(columns)}) "
        conn.execute(target + f"SELECT {', '.join(columns)} FROM catalogue_bench_10k.records")
        conn.execute(target + f"SELECT {', '.join(shifted.get(c, c) for c in columns)} "
                              f"FROM catalogue_bench_10k.records, generate_series(1, {COPIES}) n")
        conn.execute("ANALYZE catalogue_bench_100k.records")
    print(f"copied to {DISTINCT * (1 + COPIES)} records in {time.perf_counter() - started:.0f} s")


def prepare(url: str, config: CatalogueConfig, home: Path, port: int) -> None:
    configs = {}
    for name, (schema, wanted) in SIZES.items():
        if os.environ.get("BENCH_RELOAD") or count(url, schema) != wanted:
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        instance = PycswInstance(name, f"http://127.0.0.1:{port}/{name}/csw", schema, None, False)
        configs[name] = write_config(home / "configs", instance, url, config)
        result = service.run_repository("setup", configs[name])
        if result.returncode:
            raise SystemExit(result.stderr)
    if count(url, SIZES["bench10k"][0]) != DISTINCT:
        load_distinct(configs, url, config)
    if count(url, SIZES["bench100k"][0]) != SIZES["bench100k"][1]:
        copy_shifted(url)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("ANALYZE catalogue_bench_10k.records")



# --- the requests -----------------------------------------------------------------

def getrecords_xml(term: str | None, bbox: tuple[float, float, float, float] | None) -> bytes:
    filters = []
    if term:
        filters.append(f'<ogc:PropertyIsLike wildCard="%" singleChar="_" escapeChar="\\">'
                       f'<ogc:PropertyName>csw:AnyText</ogc:PropertyName><ogc:Literal>%{term}%</ogc:Literal>'
                       f'</ogc:PropertyIsLike>')
    if bbox:  # EPSG:4326 as CSW reads it: latitude first
        filters.append(f'<ogc:BBOX><ogc:PropertyName>ows:BoundingBox</ogc:PropertyName>'
                       f'<gml:Envelope srsName="urn:ogc:def:crs:EPSG::4326"><gml:lowerCorner>{bbox[1]} {bbox[0]}'
                       f'</gml:lowerCorner><gml:upperCorner>{bbox[3]} {bbox[2]}</gml:upperCorner></gml:Envelope>'
                       f'</ogc:BBOX>')
    body = filters[0] if len(filters) == 1 else f"<ogc:And>{''.join(filters)}</ogc:And>"
    return (f'<?xml version="1.0" encoding="UTF-8"?><csw:GetRecords xmlns:csw="http://www.opengis.net/cat/csw/2.0.2" '
            f'xmlns:ogc="http://www.opengis.net/ogc" xmlns:gml="http://www.opengis.net/gml" '
            f'xmlns:ows="http://www.opengis.net/ows" service="CSW" version="2.0.2" resultType="results" '
            f'startPosition="1" maxRecords="10"><csw:Query typeNames="csw:Record">'
            f'<csw:ElementSetName>brief</csw:ElementSetName><csw:Constraint version="1.1.0"><ogc:Filter>{body}'
            f'</ogc:Filter></csw:Constraint></csw:Query></csw:GetRecords>').encode()


def sql_for(schema: str, term: str | None, bbox: tuple | None) -> tuple[str, str, list]:
    where, params = [], []
    if term:
        where.append("anytext ILIKE %s")
        params.append(f"%{term}%")
    if bbox:
        where.append("ST_Intersects(wkb_geometry, ST_MakeEnvelope(%s, %s, %s, %s, 4326))")
        params += list(bbox)
    clause = " AND ".join(where)
    return (f"SELECT count(*) FROM {schema}.records WHERE {clause}",
            f"SELECT identifier, title, type, wkt_geometry FROM {schema}.records WHERE {clause} LIMIT 10", params)


def tasks(rng: random.Random, kind: str, words: list[tuple[str, str]]) -> list[tuple]:
    out = []
    for _ in range(N_REQUESTS):
        # common words (a few % of the records each) and rare record numbers (one record)
        term = (rng.choice(words)[0] if rng.random() < 0.8 else f"BM{rng.randrange(DISTINCT):06d}")
        west, south = rng.uniform(HUNAN[0], HUNAN[2] - 0.3), rng.uniform(HUNAN[1], HUNAN[3] - 0.3)
        bbox = (round(west, 4), round(south, 4), round(west + 0.3, 4), round(south + 0.3, 4))
        out.append((term if kind != "bbox" else None, bbox if kind != "text" else None))
    return out


def csw_run(name: str, endpoint: str, work_tasks: list[tuple], headers: dict | None = None) -> Result:
    def make() -> requests.Session:
        session = requests.Session()
        session.headers.update({"Content-Type": "application/xml", **(headers or {})})
        return session

    def work(session: requests.Session, task: tuple) -> None:
        r = session.post(endpoint, data=getrecords_xml(*task), timeout=120)
        if r.status_code != 200 or b"SearchResults" not in r.content:
            raise RuntimeError(f"HTTP {r.status_code}: {r.text[:300]}")
    return run_load(name, work_tasks, work, make, CONCURRENCY)


def sql_run(name: str, url: str, schema: str, work_tasks: list[tuple]) -> Result:
    def make() -> psycopg.Connection:
        return psycopg.connect(url, autocommit=True)

    def work(conn: psycopg.Connection, task: tuple) -> None:
        count_sql, page_sql, params = sql_for(schema, *task)
        conn.execute(count_sql, params).fetchone()
        conn.execute(page_sql, params).fetchall()
    return run_load(name, work_tasks, work, make, CONCURRENCY)


def ratio_line(pycsw: Result, raw: Result) -> str:
    return (f"  -> pycsw / raw SQL: p50 x{pycsw.pct(50) / raw.pct(50):.1f}, p95 x{pycsw.pct(95) / raw.pct(95):.1f}, "
            f"throughput {pycsw.rps / raw.rps:.2f} of the SQL's")


def main() -> None:
    settings = stack_settings()
    url = settings.database_url
    config = CatalogueConfig.load(settings.gateway)
    home, port = ROOT / "var" / "bench" / "catalogue", free_port()
    prepare(url, config, home, port)
    service.serve(home / "configs", port, home / "pycsw.pid", home, "/bench10k/csw")
    words, rng = vocabulary(), random.Random(11)
    try:
        print(f"\nCSW GetRecords, first 10 brief records + count, {CONCURRENCY} clients, {N_REQUESTS} requests a case "
              f"(machine load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)")
        print(HEADER)
        for name, (schema, size) in SIZES.items():
            for kind in ("text", "bbox", "text+bbox"):
                work_tasks = tasks(rng, kind, words)
                pycsw = csw_run(f"pycsw {kind} {size // 1000}k", f"http://127.0.0.1:{port}/{name}/csw", work_tasks)
                raw = sql_run(f"raw SQL {kind} {size // 1000}k", url, schema, work_tasks)
                print(pycsw.row())
                print(raw.row())
                print(ratio_line(pycsw, raw))
    finally:
        stop_pid(home / "pycsw.pid")

    # the gateway's share: the same request to the stack's catalogue through /csw and straight to pycsw
    direct = service.endpoints(settings).get("public")
    if direct:
        work_tasks = [("规划", None)] * N_REQUESTS
        via = csw_run("gateway /csw (stack catalogue)", f"{settings.base_url}/csw", work_tasks)
        straight = csw_run("pycsw direct (stack catalogue)", direct, work_tasks)
        print(HEADER)
        print(via.row())
        print(straight.row())
        print(f"  -> gateway overhead: p50 +{via.pct(50) - straight.pct(50):.1f} ms")


if __name__ == "__main__":
    main()
