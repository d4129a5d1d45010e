"""/healthz: every component, up or down, with the reason."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Flask
from psycopg_pool import ConnectionPool
from werkzeug.test import Client

from onemap.core.settings import Settings


@dataclass(frozen=True)
class HealthCheck:
    name: str
    check: Callable[[], str]  # returns a detail string, raises when down
    partner: bool = False  # a partner's service: reported, but its outage is not ours


def run_checks(checks: list[HealthCheck]) -> dict[str, Any]:
    components: dict[str, Any] = {}
    for item in checks:
        started = time.perf_counter()
        try:
            detail = item.check()
            components[item.name] = {"status": "up", "detail": detail}
        except Exception as exc:  # a health check reports any failure as "down"
            components[item.name] = {"status": "down", "reason": f"{exc.__class__.__name__}: {exc}"}
        components[item.name]["ms"] = round((time.perf_counter() - started) * 1000, 1)
        if item.partner:
            components[item.name]["partner"] = True
    status = "up" if all(c["status"] == "up" or c.get("partner") for c in components.values()) else "down"
    return {"status": status, "components": components}


def _database(pool: ConnectionPool) -> Callable[[], str]:
    def check() -> str:
        with pool.connection(timeout=5) as conn:
            version = conn.execute("SELECT postgis_lib_version()").fetchone()[0]
        return f"PostGIS {version}"
    return check


def _wsgi(app: Callable[..., Any], path: str) -> Callable[[], str]:
    def check() -> str:
        response = Client(app).get(path, headers={"Accept": "application/json"})
        if response.status_code != 200:
            raise RuntimeError(f"GET {path} -> HTTP {response.status_code}")
        return f"GET {path} -> 200"
    return check


def default_checks(settings: Settings, pool: ConnectionPool, ogc_apps: dict[str, Flask]) -> list[HealthCheck]:
    checks = [HealthCheck("postgis", _database(pool))]
    checks += [HealthCheck(f"pygeoapi-{aud}", _wsgi(app, "/conformance?f=json")) for aud, app in ogc_apps.items()]
    return checks


def _mapserver(settings: Settings) -> Callable[[], str]:
    def check() -> str:
        from onemap.maps.mapfile import check_mapfile

        return check_mapfile(settings)
    return check


def map_checks(settings: Settings, map_apps: dict[str, Any]) -> list[HealthCheck]:
    """MapServer can read the mapfile; each MapProxy answers its WMS capabilities."""
    checks = [HealthCheck("mapserver", _mapserver(settings))]
    checks += [HealthCheck(f"mapproxy-{aud}", _wsgi(app, "/service?SERVICE=WMS&REQUEST=GetCapabilities"))
               for aud, app in map_apps.items()]
    return checks
