"""Opens layers in QGIS offscreen and renders each: run by Debian's python3
(python3-qgis), not the project's virtualenv, by test_qgis.py.

stdin: {"extent": [west, south, east, north], "layers": [{"name", "provider",
"uri", "basic"?: {"username", "password"}}]}
stdout: one JSON line a layer, {"name", "valid", "features", "painted", "error"},
written as soon as the layer is done; `painted` counts the
pixels of a 256 x 256 rendering of the extent (CRS84) that differ from the
background. A layer with `basic` is opened through a QGIS Basic
authentication configuration, kept in a QGIS authentication database with a
master password in a temporary profile directory (QGIS_AUTH_DB_DIR_PATH)."""

from __future__ import annotations

import json
import os
import sys
import tempfile

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ["QGIS_AUTH_DB_DIR_PATH"] = tempfile.mkdtemp(prefix="onemap-qgis-auth-")

from qgis.core import (  # noqa: E402  (after the environment QGIS reads)
    QgsApplication,
    QgsAuthMethodConfig,
    QgsCoordinateReferenceSystem,
    QgsCoordinateTransform,
    QgsMapRendererParallelJob,
    QgsMapSettings,
    QgsProject,
    QgsRasterLayer,
    QgsRectangle,
    QgsVectorLayer,
    QgsVectorTileBasicRenderer,
    QgsVectorTileLayer,
)
from qgis.PyQt.QtCore import QSize  # noqa: E402
from qgis.PyQt.QtGui import QColor  # noqa: E402

SIZE = 256


def basic_auth(username: str, password: str) -> str:
    """A QGIS Basic authentication configuration (a user name and password,
    as a planner enters them), stored encrypted under the master password;
    its id."""
    manager = QgsApplication.authManager()
    if not manager.masterPasswordIsSet():
        assert manager.setMasterPassword("onemap-test-master", True), "master password not set"
    config = QgsAuthMethodConfig("Basic")
    config.setName("One Map staff")
    config.setConfig("username", username)
    config.setConfig("password", password)
    assert manager.storeAuthenticationConfig(config), "authentication configuration not stored"
    return config.id()


def open_layer(spec: dict):
    uri = spec["uri"]
    if spec.get("basic"):
        authcfg = basic_auth(spec["basic"]["username"], spec["basic"]["password"])
        uri += f" authcfg={authcfg}" if spec["provider"] == "OAPIF" else f"&authcfg={authcfg}"
    if spec["provider"] == "vectortile":
        layer = QgsVectorTileLayer(uri, spec["name"])
        # no style in the source: the random-colour basic style of QGIS
        renderer = QgsVectorTileBasicRenderer()
        renderer.setStyles(QgsVectorTileBasicRenderer.simpleStyleWithRandomColors())
        layer.setRenderer(renderer)
        return layer
    if spec["provider"] == "OAPIF":
        return QgsVectorLayer(uri, spec["name"], "OAPIF")
    return QgsRasterLayer(uri, spec["name"], spec["provider"])


def painted(layer, extent: list[float]) -> int:
    settings = QgsMapSettings()
    settings.setLayers([layer])
    web_mercator = QgsCoordinateReferenceSystem("EPSG:3857")
    settings.setDestinationCrs(web_mercator)
    transform = QgsCoordinateTransform(QgsCoordinateReferenceSystem("EPSG:4326"), web_mercator,
                                       QgsProject.instance())
    settings.setExtent(transform.transformBoundingBox(QgsRectangle(*extent)))
    settings.setOutputSize(QSize(SIZE, SIZE))
    settings.setBackgroundColor(QColor(255, 255, 255))
    job = QgsMapRendererParallelJob(settings)
    job.start()
    job.waitForFinished()
    image = job.renderedImage()
    background = QColor(255, 255, 255).rgb()
    return sum(image.pixel(x, y) != background for x in range(SIZE) for y in range(SIZE))


def main() -> None:
    QgsApplication.setPrefixPath("/usr", True)
    app = QgsApplication([], False)
    app.initQgis()
    request = json.load(sys.stdin)
    opened = []  # every layer kept to the end: a provider destroyed mid-run can crash QGIS 3.22
    for spec in request["layers"]:
        layer = open_layer(spec)
        opened.append(layer)
        result = {"name": spec["name"], "valid": layer.isValid(),
                  "error": layer.error().summary() if not layer.isValid() else ""}
        if layer.isValid():
            if isinstance(layer, QgsVectorLayer):
                result["features"] = sum(1 for _ in layer.getFeatures())
            result["painted"] = painted(layer, request["extent"])
        print(json.dumps(result), flush=True)
    os._exit(0)  # QGIS 3.22's exitQgis() crashes offscreen after a rendering job


if __name__ == "__main__":
    main()
