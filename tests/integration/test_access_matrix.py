"""The access matrix, generated from the permission data: every route family
(features items and item, vector tiles, WMS, WMTS, CSW, styles, process
execution, jobs, /admin/…) × every kind of caller (anonymous, a member of the
public, staff, the e-government system, an administrator, a user of a role
made through the admin API in this test) × every layer. The expected status
of each cell is computed from the roles the admin API reports — none is
written by hand — and the test counts the leaks: 0."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from types import SimpleNamespace

import pytest
import requests

from integration.config import IntegrationConfig
from onemap.core.accounts import create_token
from onemap.core.settings import Settings
from tests.conftest import auth
from tests.integration.partners import partner_stack  # noqa: F401 - a fixture
from tests.integration.test_accounts import basic

PASSWORD = "matrix-Password-1"
# Map requests ask for a place far from the demo city (the Gulf of Guinea):
# the gateway decides access before anything is drawn, and an empty tile or
# map costs nothing to draw, where the whole city at level 0 costs a second.
_BBOX = "0,0,1000,1000"
_TILE = "14/8192/8191"


@dataclass(frozen=True)
class Caller:
    kind: str
    roles: tuple[str, ...]  # empty: anonymous
    headers: dict[str, str]

    @property
    def anonymous(self) -> bool:
        return not self.headers


@pytest.fixture(scope="module")
def admin_headers(database_url):
    return auth(create_token(database_url, "admin", "pytest-matrix-admin"))


@pytest.fixture(scope="module")
def callers(base_url, database_url, admin_headers, tokens, layers) -> list[Caller]:
    """One caller of each kind; the custom role reads one internal layer by
    id (not its sensitivity), runs one process and sees its own jobs."""
    suffix = uuid.uuid4().hex[:6]
    internal = sorted(layer.id for layer in layers if not layer.is_public)
    role = {"name": f"matrix-{suffix}", "zh": "矩阵测试角色", "en": "matrix test role", "reads": ["public"],
            "layers": [internal[0]], "runs": ["area-statistics"], "administers": []}
    assert requests.post(f"{base_url}/admin/roles", json=role, headers=admin_headers, timeout=30).status_code == 201
    users = {}
    for kind, roles in (("public", ["public"]), ("custom", [role["name"]])):
        name = f"matrix-{kind}-{suffix}"
        r = requests.post(f"{base_url}/admin/users", headers=admin_headers, timeout=30,
                          json={"name": name, "password": PASSWORD, "roles": roles})
        assert r.status_code == 201, r.text
        users[kind] = Caller(kind, tuple(roles), basic(name, PASSWORD))
    return [Caller("anonymous", (), {}), users["public"],
            Caller("staff", ("staff",), auth(tokens["staff"])), Caller("egov", ("egov",), auth(tokens["egov"])),
            Caller("admin", ("admin",), auth(tokens["admin"])), users["custom"]]


@pytest.fixture(scope="module")
def roles(base_url, admin_headers, callers) -> dict[str, dict]:
    """The permission data, as the admin API gives it."""
    r = requests.get(f"{base_url}/admin/roles", headers=admin_headers, timeout=30)
    assert r.status_code == 200
    return {role["name"]: role for role in r.json()}


def _granted(caller: Caller, roles: dict[str, dict]) -> list[dict]:
    return [roles[name] for name in caller.roles]


def _reads(caller: Caller, layer, roles: dict[str, dict]) -> bool:
    if caller.anonymous:
        return layer.sensitivity in Settings.from_env().gateway["anonymous_reads"]
    return any(layer.sensitivity in r["reads"] or layer.id in r["layers"] for r in _granted(caller, roles))


def _denied(caller: Caller) -> int:
    return 401 if caller.anonymous else 403


def _expect(allowed: bool, caller: Caller, got: int) -> bool:
    """Allowed: anything but a refusal by the gateway (the service behind
    may answer 204 for an empty tile or 400 for a deliberately bad body);
    refused: exactly 401 anonymous, 403 signed in."""
    return got not in (401, 403) and got < 500 if allowed else got == _denied(caller)


def test_layer_routes(base_url, ogc_url, db, layers, callers, roles):
    map_names = set(requests.get(f"{base_url}/mapproxy/service", headers=callers[4].headers, timeout=60, params={
        "SERVICE": "WMS", "REQUEST": "GetCapabilities", "VERSION": "1.3.0"}).text.split("<Name>"))
    cells = leaks = 0
    failures = []
    for layer in layers:
        item_id = db.execute(f"SELECT min(id) FROM {layer.table}").fetchone()[0]
        urls = {"items": f"{ogc_url}/collections/{layer.id}/items?f=json&limit=2",
                "tiles": f"{ogc_url}/collections/{layer.id}/tiles/WebMercatorQuad/{_TILE}?f=mvt",
                "style": f"{base_url}/styles/{layer.style}.json?layer={layer.id}"}
        if item_id is not None:
            urls["item"] = f"{ogc_url}/collections/{layer.id}/items/{item_id}?f=json"
        if any(name.startswith(f"{layer.id}</Name>") for name in map_names):
            urls["wms"] = (f"{base_url}/mapproxy/service?SERVICE=WMS&REQUEST=GetMap&VERSION=1.3.0&LAYERS={layer.id}"
                           f"&STYLES=&CRS=EPSG:3857&BBOX={_BBOX}&WIDTH=64&HEIGHT=64&FORMAT=image/png")
            urls["wmts"] = f"{base_url}/mapproxy/wmts/{layer.id}/WebMercatorQuad/{_TILE}.png"
        for caller in callers:
            allowed = _reads(caller, layer, roles)
            for family, url in urls.items():
                got = requests.get(url, headers=caller.headers, timeout=120).status_code
                cells += 1
                if not _expect(allowed, caller, got):
                    leaks += not allowed
                    failures.append(f"{caller.kind} {layer.id} {family}: {got} (allowed: {allowed})")
    print(f"layer routes: {cells} cells, {leaks} leaks")
    assert cells >= len(layers) * len(callers) * 4
    assert not failures, failures
    assert leaks == 0


def test_catalogue_records(base_url, layers, callers, roles):
    """CSW gives a layer's record to the callers that read its sensitivity
    (the catalogue is per audience: a grant by layer id does not reach it)."""
    from catalogue.records import CatalogueConfig

    config = CatalogueConfig.load(Settings.from_env().gateway)
    wanted = ",".join(config.layer_identifier(layer) for layer in layers)
    leaks = 0
    for caller in callers:
        r = requests.get(f"{base_url}/csw", headers=caller.headers, timeout=60, params={
            "service": "CSW", "version": "2.0.2", "request": "GetRecordById", "id": wanted,
            "elementsetname": "brief"})
        assert r.status_code == 200, r.text[:300]
        for layer in layers:
            shown = f">{config.layer_identifier(layer)}<" in r.text
            may = (layer.sensitivity in Settings.from_env().gateway["anonymous_reads"] if caller.anonymous
                   else any(layer.sensitivity in g["reads"] for g in _granted(caller, roles)))
            leaks += shown and not may
            assert shown == may, f"{caller.kind} {layer.id}: shown {shown}"
    assert leaks == 0


def test_processes_and_jobs(ogc_url, callers, roles):
    """Execution of every process (with a body pygeoapi refuses, so nothing
    runs: an allowed caller gets its 400, a refused one the gateway's
    401/403) and the job list."""
    processes = [p["id"] for p in requests.get(f"{ogc_url}/processes?f=json", timeout=30).json()["processes"]]
    assert processes
    failures = []
    for caller in callers:
        granted = _granted(caller, roles)
        for process in processes:
            got = requests.post(f"{ogc_url}/processes/{process}/execution", data=b"not json", timeout=60,
                                headers={**caller.headers, "Content-Type": "application/json"}).status_code
            if not _expect(any(process in r["runs"] for r in granted), caller, got):
                failures.append(f"{caller.kind} runs {process}: {got}")
        got = requests.get(f"{ogc_url}/jobs?f=json", headers=caller.headers, timeout=60).status_code
        if not _expect(any(r["runs"] for r in granted), caller, got):
            failures.append(f"{caller.kind} jobs: {got}")
    assert not failures, failures


def test_admin_routes(base_url, callers, roles):
    """Every accounts route of /admin/ (reads; the changes are in
    test_accounts.py) against the `administers` data."""
    failures = []
    for caller in callers:
        allowed = any("accounts" in r["administers"] for r in _granted(caller, roles))
        for path in ("users", "roles", "tokens", "permissions"):
            got = requests.get(f"{base_url}/admin/{path}", headers=caller.headers, timeout=30).status_code
            if not _expect(allowed, caller, got):
                failures.append(f"{caller.kind} /admin/{path}: {got}")
        got = requests.post(f"{base_url}/admin/users", headers=caller.headers, json={}, timeout=30).status_code
        if not (got == 400 if allowed else got == _denied(caller)):
            failures.append(f"{caller.kind} POST /admin/users: {got}")
    assert not failures, failures


def test_partner_map_layers(partner_stack, callers, roles):  # noqa: F811
    """The map layers the partners serve through ours (the cloud's basemap,
    the province's layers; a gateway configured for their stand-ins) × every
    caller, WMS and WMTS: the sensitivity config/integration.yaml decides for
    each (internal where it says nothing), read by the roles as any layer's."""
    decided = [SimpleNamespace(id=name, sensitivity=entry.get("sensitivity", "internal"))
               for partner in IntegrationConfig.load(Settings.from_env().config_dir).partners.values()
               for key in ("layers", "map_layers") for name, entry in (partner.get(key) or {}).items()]
    assert {layer.sensitivity for layer in decided} == {"public", "internal"}  # both kinds of decision covered
    cells, failures = 0, []
    for layer in decided:
        urls = {"wms": (f"{partner_stack.url}/mapproxy/service?SERVICE=WMS&REQUEST=GetMap&VERSION=1.3.0"
                        f"&LAYERS={layer.id}&STYLES=&CRS=EPSG:3857&BBOX={_BBOX}&WIDTH=64&HEIGHT=64&FORMAT=image/png"),
                "wmts": f"{partner_stack.url}/mapproxy/wmts/{layer.id}/WebMercatorQuad/8/207/106.png"}
        for caller in callers:
            allowed = _reads(caller, layer, roles)
            for family, url in urls.items():
                got = requests.get(url, headers=caller.headers, timeout=120).status_code
                cells += 1
                if not _expect(allowed, caller, got):
                    failures.append(f"{caller.kind} {layer.id} {family}: {got} (allowed: {allowed})")
    print(f"partner map layers: {cells} cells")
    assert cells >= len(decided) * len(callers) * 2 and not failures, failures
