"""The patches of pygeoapi's code, kept to the minimum
(tests/unit/test_upstream_patches.py fails when upstream changes what they
work around, so they are looked at again on every upgrade).

1. pygeoapi 0.24 declares OGC API Features Part 4 (create-replace-delete)
   for every feature collection, editable or not. No One Map collection is
   editable, so the class is withdrawn: declare only what works.

2. pygeoapi 0.24 `pygeoapi.crs.transform_bbox`, which `pygeoapi.api.itemtypes`
imports by name, builds a pyproj Transformer and identifies the target CRS
(`CRS.to_epsg()`, a database search of some 35 ms) on every items request
with a `bbox`: two thirds of the time of a page of 100 features. The same
few CRS pairs come back on every request, so the transformer and the
answer are kept, per thread (a pyproj Transformer must not be shared
between threads).

3. pygeoapi 0.24 `evaluate_limit` takes `?limit=true` as a limit (a bool is
   an int in Python) and hands `True` to the provider: a 500 where a 400
   belongs. A bool is refused as upstream refuses any other non-integer.

4. pygeoapi 0.24 reads its configuration and OpenAPI document with PyYAML's
   pure-Python loader (`pygeoapi.util.yaml_load`, for its ${VAR}
   substitution): five seconds of every gateway worker's start, at each
   start and reload. A document without ${ is read by libyaml's safe
   loader, the same document in a tenth of the time; one with ${ as
   upstream reads it.

(3 was found by the schema-driven fuzzer, tests/integration/test_fuzz.py. It
also found `?lang=` answered with a 500, which the languages offered without
a territory avoid: onemap.ogc.config.LANGUAGES, no patch.)"""

from __future__ import annotations

import importlib
import io
import threading
from collections.abc import Callable
from typing import IO, Any

import pyproj
import yaml
from pygeoapi import api as pygeoapi_api
from pygeoapi import crs as pygeoapi_crs
from pygeoapi import util as pygeoapi_util
from pygeoapi.api import itemtypes, processes

_local = threading.local()


def _bbox_transform(from_crs: Any, to_crs: Any, always_xy: bool) -> tuple[Callable, bool]:
    """The transform function, and whether the target is Web Mercator."""
    cache: dict = _local.__dict__.setdefault("transforms", {})
    key = (str(from_crs), str(to_crs), always_xy)
    if key not in cache:
        target = pygeoapi_crs.get_crs(to_crs)
        transformer = pyproj.Transformer.from_crs(pygeoapi_crs.get_crs(from_crs), target, always_xy)
        cache[key] = (transformer.transform, target.to_epsg() == 3857)
    return cache[key]


def transform_bbox(bbox: list, from_crs: Any, to_crs: Any, always_xy: bool = False) -> list:
    """pygeoapi.crs.transform_bbox, with the transformer cached."""
    transform, web_mercator = _bbox_transform(from_crs, to_crs, always_xy)
    if web_mercator:  # as pygeoapi: keep away from the poles
        bbox = [bbox[0], max(-85.0511, bbox[1]), bbox[2], min(85.0511, bbox[3])]
    n_dims = len(bbox) // 2
    return list(transform(*bbox[:n_dims]) + transform(*bbox[n_dims:]))


_upstream_evaluate_limit = pygeoapi_api.evaluate_limit


def evaluate_limit(requested: Any, server_limits: dict, collection_limits: dict) -> int:
    """pygeoapi.api.evaluate_limit, refusing a boolean as it refuses text."""
    if isinstance(requested, bool) or (isinstance(requested, str)
                                       and isinstance(pygeoapi_api.get_typed_value(requested), bool)):
        raise ValueError("limit value should be an integer")
    return _upstream_evaluate_limit(requested, server_limits, collection_limits)


_upstream_yaml_load = pygeoapi_util.yaml_load
# the modules (the package's attributes of these names are its CLI groups)
YAML_READERS = [importlib.import_module(name) for name in ("pygeoapi.config", "pygeoapi.openapi")]


def yaml_load(fh: IO) -> Any:
    """pygeoapi.util.yaml_load with libyaml where no ${VAR} is to be replaced."""
    text = fh.read()
    if "${" in text:
        return _upstream_yaml_load(io.StringIO(text))
    return yaml.load(text, Loader=yaml.CSafeLoader)  # noqa: S506 (a safe loader)


PATCHED_VERSION = "0.24.0"  # the pygeoapi release these were written against
FEATURES_PART4 = "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/create-replace-delete"


def install() -> None:
    """Withdraw Part 4; put the replacements where pygeoapi looks them up
    (before pygeoapi.flask_app is imported: it reads its files then)."""
    if FEATURES_PART4 in itemtypes.CONFORMANCE_CLASSES_FEATURES:
        itemtypes.CONFORMANCE_CLASSES_FEATURES.remove(FEATURES_PART4)
    itemtypes.transform_bbox = transform_bbox
    itemtypes.evaluate_limit = processes.evaluate_limit = evaluate_limit
    for module in YAML_READERS:
        module.yaml_load = yaml_load
