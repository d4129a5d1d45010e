"""A gateway with the partners' map layers: the stack's code (create_app)
on a copy of its configuration whose province WMS and cloud tile URLs point
at stand-ins started here (integration.standins: the province's WMS drawing
its lines, the cloud's MapProxy), served on loopback in this process, on
the stack's database — so the test stack's own gateway, which other tests
share, is neither reconfigured nor reloaded. The copy has no outbox
deliverer (the integration blueprint): the stack's gateway delivers. Its
links (OGC API, styles, basemaps, capabilities) name its own address, so a
browser uses it as it uses the stack's."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import pytest
import yaml
from werkzeug.serving import BaseWSGIServer, make_server

from integration.standins import cloud_app, cloud_url, province_maps_app, province_wms_url
from onemap.core import db
from onemap.core.registry import load_layers, load_processes
from onemap.core.settings import Settings
from onemap.maps.config import load_tree, write_mapproxy_configs
from onemap.ogc.config import write_configs
from onemap.stack import free_port

OUTBOX_BLUEPRINT = "integration.http:blueprint"


@dataclass
class PartnerStack:
    url: str  # the gateway
    province: BaseWSGIServer  # the province's WMS stand-in
    settings: Settings


def serve(app: Callable[..., Any], port: int | None = None) -> BaseWSGIServer:
    server = make_server("127.0.0.1", port or free_port(), app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def stop(server: BaseWSGIServer) -> None:
    server.shutdown()
    server.server_close()


def _edit(path, change: Callable[[dict], None]) -> None:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")


def configured_copy(home, partners: Callable[[dict], None]) -> Settings:
    """The stack's settings on a copy of its configuration under `home`
    whose config/integration.yaml `partners` section `partners` changed (as
    an operator points the integration at a partner)."""
    stack = Settings.from_env()
    shutil.copytree(stack.config_dir, home / "config")
    _edit(home / "config" / "integration.yaml", lambda data: partners(data["partners"]))
    return replace(stack, config_dir=home / "config")


@pytest.fixture(scope="module")
def partner_stack(tmp_path_factory, monkeypatch_module, database_url):
    # pygeoapi: loaded only by the tests that serve a gateway
    from onemap.gateway.app import create_app

    home = tmp_path_factory.mktemp("partners")
    province, cloud = serve(province_maps_app), serve(cloud_app(home / "cloud"))
    stack = Settings.from_env()

    def point_at_standins(partners: dict) -> None:
        partners["province"]["wms_url"] = province_wms_url(f"http://127.0.0.1:{province.server_port}")
        partners["cloud"]["url"] = cloud_url(f"http://127.0.0.1:{cloud.server_port}")

    settings = replace(configured_copy(home, point_at_standins), var_dir=home / "var", port=free_port())
    _edit(home / "config" / "components.yaml", lambda data: data["blueprints"].remove(OUTBOX_BLUEPRINT))
    # the stack's generated files; pygeoapi's configurations again for this
    # gateway's address, MapProxy's with the partners' layers, drawing ours
    # with the stack's mapfile (where MapServer's configuration lets it read maps)
    shutil.copytree(stack.generated_dir, settings.generated_dir)
    layers = load_layers(settings.config_dir / "layers.yaml")
    extents = db.layer_extents(database_url, layers)
    write_configs(layers, settings, database_url, extents, load_processes(settings.config_dir / "processes.yaml"))
    write_mapproxy_configs(layers, load_tree(layers), settings, stack.mapserver_files, extents)
    monkeypatch_module.setenv("ONEMAP_CONFIG", str(settings.config_dir))  # what the health checks read
    monkeypatch_module.setenv("ONEMAP_VAR", str(settings.var_dir))
    gateway = serve(create_app(settings), settings.port)
    yield PartnerStack(settings.base_url, province, settings)
    for server in (gateway, cloud, province):
        if server.socket.fileno() != -1:  # a test may have stopped the province
            stop(server)
