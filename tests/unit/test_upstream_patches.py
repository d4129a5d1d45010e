"""Where One Map works around or extends upstream code, the upstream
behaviour it relies on: each test fails when an upgrade changes it, so the
workaround is looked at again (and dropped when upstream has fixed it)."""

from __future__ import annotations

import inspect

import pygeoapi
import pytest
from babel import UnknownLocaleError
from pygeoapi import crs as pygeoapi_crs
from pygeoapi import l10n
from pygeoapi.api import itemtypes
from pygeoapi.process.manager.postgresql import PostgreSQLManager

from onemap.ogc import patches
from onemap.ogc.config import LANGUAGES
from onemap.ogc.jobs import OneMapJobManager


def test_the_patch_is_for_the_installed_pygeoapi():
    assert pygeoapi.__version__ == patches.PATCHED_VERSION, \
        "pygeoapi was upgraded: check whether onemap/ogc/patches.py is still needed"


def test_pygeoapi_still_declares_part4_for_every_feature_collection():
    source = inspect.getsource(itemtypes)
    declared = source[source.index("CONFORMANCE_CLASSES_FEATURES = ["):source.index("CONFORMANCE_CLASSES_RECORDS")]
    assert patches.FEATURES_PART4 in declared


def test_pygeoapi_still_builds_a_transformer_per_bbox():
    # the items handler takes transform_bbox by name from pygeoapi.crs ...
    assert "transform_bbox" in inspect.getsource(itemtypes)
    source = inspect.getsource(pygeoapi_crs.transform_bbox)
    # ... which still makes a new Transformer and asks to_epsg() every call
    assert "Transformer.from_crs" in source and "to_epsg()" in source


@pytest.mark.parametrize("bbox, source, target", [
    ([112.0, 28.0, 112.5, 28.5], "http://www.opengis.net/def/crs/OGC/1.3/CRS84",
     "http://www.opengis.net/def/crs/EPSG/0/4546"),
    ([28.0, 112.0, 28.5, 112.5], "http://www.opengis.net/def/crs/EPSG/0/4490",
     "http://www.opengis.net/def/crs/OGC/1.3/CRS84"),
    ([-10.0, -89.0, 10.0, 89.0], "http://www.opengis.net/def/crs/OGC/1.3/CRS84",
     "http://www.opengis.net/def/crs/EPSG/0/3857"),
])
def test_the_cached_transform_gives_upstreams_answer(bbox, source, target):
    expected = pygeoapi_crs.transform_bbox(bbox, source, target)
    assert patches.transform_bbox(bbox, source, target) == pytest.approx(expected)
    assert patches.transform_bbox(bbox, source, target) == pytest.approx(expected)  # from the cache


@pytest.mark.parametrize("method", ["get_processor", "add_job", "_execute_handler_async", "_execute_handler_sync",
                                    "get_jobs", "get_job", "get_job_result"])
def test_the_job_manager_overrides_methods_upstream_still_has(method):
    """onemap/ogc/jobs.py completes pygeoapi's PostgreSQL manager by
    overriding these; their upstream signatures must still match ours."""
    upstream = getattr(PostgreSQLManager, method)
    ours = getattr(OneMapJobManager, method)
    assert ours is not upstream
    assert list(inspect.signature(ours).parameters) == list(inspect.signature(upstream).parameters)


def test_pygeoapi_still_builds_locales_babel_refuses_and_our_languages_avoid_them():
    """Why onemap.ogc.config.LANGUAGES name no territory."""
    with pytest.raises(UnknownLocaleError):
        l10n.best_match(["AAA"], ["zh-CN", "en-US"])
    with pytest.raises(UnknownLocaleError):
        l10n.best_match(["zh-TW"], ["zh-CN", "en-US"])
    for asked, expected in ((["AAA"], "zh"), (["zh-TW"], "zh"), (["zh-CN"], "zh"), (["en-GB"], "en"), ([], "zh")):
        assert str(l10n.best_match(asked, LANGUAGES)) == expected


def test_pygeoapi_still_takes_true_as_a_limit():
    limits = {"default_items": 10, "max_items": 100}
    assert patches._upstream_evaluate_limit("true", limits, {}) is True
    with pytest.raises(ValueError):
        patches.evaluate_limit("true", limits, {})
    assert patches.evaluate_limit("5", limits, {}) == 5


def test_pygeoapi_still_reads_its_files_through_yaml_load_by_name():
    config, openapi = patches.YAML_READERS
    assert "CONFIG = yaml_load(fh)" in inspect.getsource(config.get_config)
    assert "yaml_load(ff)" in inspect.getsource(openapi.load_openapi_document)


@pytest.mark.parametrize("text", [
    "server:\n  url: http://127.0.0.1:8000/ogc\n  limits: {default_items: 10}\nlist: [1, 2.5, true, null, '3']\n"
    "title: {zh: 一张图, en: One Map}\nwhen: 2024-01-01\n",
    "server:\n  url: ${ONEMAP_TEST_PATCH_URL:-http://default}\n  n: 3\n",
])
def test_the_libyaml_loader_gives_upstreams_answer(text):
    import io

    from pygeoapi.util import yaml_load as upstream
    assert patches.yaml_load(io.StringIO(text)) == upstream(io.StringIO(text))
