"""The pycsw repository in PostGIS: set-up and loading, with pycsw's own code
(runs in `.venv-pycsw`).

    python -m catalogue.server.repository setup CONFIG
    python -m catalogue.server.repository load CONFIG PREFIX < records.json

CONFIG is a pycsw configuration written by `catalogue.config`; its
`[onemap] schema` names the PostgreSQL schema of the repository and its
database URL sets that schema first on the search_path, so pycsw's own
unqualified SQL (`setup_db`, the FTS probe) lands there.

`load` reads {"records": {identifier: ISO 19139 XML}} and makes the records
whose identifier starts with PREFIX exactly these: new ones inserted,
existing ones replaced, the others under PREFIX deleted, in one
transaction (nothing half-loaded when one record does not parse). It
prints {"inserted": n, "updated": n, "deleted": n}; on a bad record it
prints {"error": ..., "identifier": ...} and exits with status 2.
"""

import configparser
import json
import sys

from lxml import etree
from pycsw.core import admin, config, metadata, repository
from sqlalchemy import create_engine, text


def _read(config_path: str) -> tuple[str, str, str]:
    cfg = configparser.ConfigParser(interpolation=configparser.BasicInterpolation())
    with open(config_path, encoding="utf-8") as f:
        cfg.read_file(f)
    return cfg.get("repository", "database"), cfg.get("repository", "table"), cfg.get("onemap", "schema")


def setup(config_path: str) -> None:
    """Create the schema and pycsw's records table (PostGIS geometry column,
    triggers) unless they exist.

    pycsw searches csw:AnyText with PostgreSQL full-text search when an index
    named fts_gin_idx exists, through the 'english' parser, which keeps a run
    of Chinese characters as one token: 规划 would never find 规划用地用海.
    Without that index it uses ILIKE '%term%', which a pg_trgm index serves,
    and which finds Chinese substrings.
    """
    database, table, schema = _read(config_path)
    engine = create_engine(database)
    with engine.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
        conn.execute(text("CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public"))
        exists = conn.execute(text("SELECT to_regclass(:name)"), {"name": f'"{schema}".{table}'}).scalar()
    if exists:
        return
    admin.setup_db(database, table, home=None)
    with engine.begin() as conn:
        conn.execute(text(f"DROP TRIGGER IF EXISTS ftsupdate ON {table}"))
        conn.execute(text("DROP INDEX IF EXISTS fts_gin_idx"))
        conn.execute(text(f"ALTER TABLE {table} DROP COLUMN IF EXISTS anytext_tsvector"))
        conn.execute(text(f"CREATE INDEX {table}_anytext_trgm_idx ON {table} USING gin (anytext gin_trgm_ops)"))


def load(config_path: str, prefix: str, records: dict[str, str]) -> dict[str, object]:
    database, table, _ = _read(config_path)
    context = config.StaticContext()
    repo = repository.Repository(database, context, table=table)
    mappings = context.md_core_model["mappings"]
    ident = getattr(repo.dataset, mappings["pycsw:Identifier"])
    session = repo.session
    session.begin()
    try:
        existing = {row[0] for row in session.query(ident).filter(ident.startswith(prefix, autoescape=True))}
        for identifier, xml in records.items():
            try:
                parsed = metadata.parse_record(context, etree.fromstring(xml.encode("utf-8"), context.parser), repo)
            except Exception as exc:  # any parse failure rejects the whole load
                session.rollback()
                return {"error": f"{exc.__class__.__name__}: {exc}", "identifier": identifier}
            for record in parsed:
                if getattr(record, ident.key) != identifier:
                    session.rollback()
                    return {"error": "the record's fileIdentifier differs from its key", "identifier": identifier}
                xml_column = mappings["pycsw:XML"]
                if isinstance(getattr(record, xml_column), bytes):  # as Repository.insert does
                    setattr(record, xml_column, getattr(record, xml_column).decode("utf-8"))
                if identifier in existing:
                    session.merge(record)
                else:
                    session.add(record)
        stale = existing - set(records)
        if stale:
            session.query(repo.dataset).filter(ident.in_(stale)).delete(synchronize_session=False)
        session.commit()
    except Exception:
        session.rollback()
        raise
    return {"inserted": len(set(records) - existing), "updated": len(set(records) & existing), "deleted": len(stale)}


def main(argv: list[str]) -> int:
    command, config_path = argv[1], argv[2]
    if command == "setup":
        setup(config_path)
        return 0
    if command == "load":
        result = load(config_path, argv[3], json.load(sys.stdin)["records"])
        json.dump(result, sys.stdout, ensure_ascii=False)
        return 2 if "error" in result else 0
    raise SystemExit(f"unknown command {command}")


if __name__ == "__main__":
    sys.exit(main(sys.argv))
