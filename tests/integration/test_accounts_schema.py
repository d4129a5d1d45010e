"""The accounts data model on a database made before it: the schema, applied
at every start, gives each token name of the old ops.token (name, role) a
system account with that role and links its tokens, once."""

from __future__ import annotations

import uuid

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from onemap.core.accounts import lookup_token
from onemap.core.auth import token_hash
from onemap.core.db import apply_schema, core_schema


@pytest.fixture
def old_database(database_url):
    """A scratch database holding tokens the way they were stored before."""
    name = f"migrate_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    url = make_conninfo(database_url, dbname=name)
    try:
        with psycopg.connect(url) as conn:
            conn.execute("CREATE SCHEMA ops; CREATE TABLE ops.token (id serial PRIMARY KEY, name text NOT NULL, "
                         "role text NOT NULL, token_sha256 char(64) NOT NULL UNIQUE, "
                         "created_at timestamptz NOT NULL DEFAULT now(), revoked_at timestamptz)")
            conn.execute("INSERT INTO ops.token (name, role, token_sha256) VALUES (%s, 'staff', %s), "
                         "(%s, 'staff', %s), (%s, 'egov', %s)",
                         ("planner", token_hash("t1"), "planner", token_hash("t2"), "egov-system", token_hash("t3")))
        yield url
    finally:
        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {conninfo_to_dict(url)['dbname']} WITH (FORCE)")


def test_old_tokens_become_tokens_of_system_accounts(old_database):
    for _ in range(2):  # idempotent: the schema runs at every start
        apply_schema(old_database, [core_schema()])
    with psycopg.connect(old_database) as conn:
        accounts = conn.execute("SELECT name, roles, system FROM ops.account ORDER BY name").fetchall()
        assert accounts == [("egov-system", ["egov"], True), ("planner", ["staff"], True)]
        assert lookup_token(conn, "t1").roles == ("staff",) and lookup_token(conn, "t2").name == "planner"
        assert lookup_token(conn, "t3").roles == ("egov",)
        columns = {r[0] for r in conn.execute("SELECT column_name FROM information_schema.columns "
                                              "WHERE table_schema = 'ops' AND table_name = 'token'")}
        assert "role" not in columns and "account_id" in columns
