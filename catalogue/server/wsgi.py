"""The WSGI application gunicorn serves from `.venv-pycsw`, on loopback.

One process serves several pycsw configurations, one a path prefix:
`/<name>/csw` answers with `<ONEMAP_PYCSW_CONFIG_DIR>/<name>.cfg` (the
`public` and `internal` configurations of the stack; a test's provincial
platform). Unlike `pycsw.wsgi`, the configuration never comes from the
request (pycsw's `config=` parameter), so no client can pick one with
another repository filter. `/<name>/csw/oaipmh` and `/<name>/csw/opensearch`
are pycsw's OAI-PMH and OpenSearch modes of the same endpoint.
"""

import contextlib
import os
import re
import threading
import types
from collections.abc import Callable, Iterable, Iterator

from lxml import etree
from pycsw import oaipmh, server
from pycsw.core import repository, util
from pycsw.ogc.csw import csw2, csw3
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm import create_session


class _SchemaCache(types.ModuleType):
    """lxml.etree as pycsw's CSW modules see it, except that an XML schema
    file is compiled once per thread: pycsw 2.6 compiles the CSW schema for
    every POST request it validates, most of the time of a small answer."""

    def __init__(self) -> None:
        super().__init__("etree")
        self._local = threading.local()

    def __getattr__(self, name: str) -> object:
        return getattr(etree, name)

    def XMLSchema(self, etree=None, file=None):  # noqa: ANN001, ANN201, N802 - lxml's signature
        if file is None:
            return globals()["etree"].XMLSchema(etree)
        cache = self._local.__dict__.setdefault("schemas", {})
        if file not in cache:
            cache[file] = globals()["etree"].XMLSchema(file=file)
        return cache[file]


_faults = threading.local()


@contextlib.contextmanager
def _noting_database_faults() -> Iterator[None]:
    """pycsw answers any failed query "Invalid query syntax" (400), a lost
    database too: note the fault, so the response says what it is."""
    try:
        yield
    except (OperationalError, InterfaceError):
        _faults.database = True
        raise


class _Repository(repository.Repository):
    """pycsw 2.6 reflects the records table and probes PostGIS again for
    every request (most of the time of a small answer); the table does not
    change while the process runs, so the first request's mapping and probes
    serve the others. Queryables follow the request's CSW version and are
    built each time, as pycsw does. Pooled connections are checked when
    taken (pre-ping)."""

    _mapped: dict = {}

    def __init__(self, database, context, app_root=None, table="records", repo_filter=None):  # noqa: ANN001 - pycsw's signature
        known = self._mapped.get((database, table))
        if known is None:
            with _noting_database_faults():
                super().__init__(database, context, app_root, table, repo_filter)
            # pycsw 2.6 pools connections unchecked: after a database restart
            # every stale one failed a request as "Invalid query syntax"
            self.engine.pool._pre_ping = True
            self._mapped[(database, table)] = {
                name: getattr(self, name) for name in ("engine", "dataset", "dbtype", "postgis_geometry_column", "fts")}
            return
        self.__dict__.update(known)
        self.context, self.filter = context, repo_filter
        self.session = create_session(self.engine)
        self.queryables = {name: dict(spec) for model in context.model["typenames"].values()
                           for name, spec in model["queryables"].items()}
        self.queryables["_all"] = {k: v for spec in list(self.queryables.values()) for k, v in spec.items()}
        self.queryables["_all"].update(context.md_core_model["mappings"])

    def query(self, *args, **kwargs):  # noqa: ANN002, ANN003, ANN201 - pycsw's signature
        with _noting_database_faults():
            return super().query(*args, **kwargs)

    def query_ids(self, *args, **kwargs):  # noqa: ANN002, ANN003, ANN201 - pycsw's signature
        with _noting_database_faults():
            return super().query_ids(*args, **kwargs)


class _OAIPMH(oaipmh.OAIPMH):
    """pycsw 2.6.2 writes the first record's identifier and datestamp into
    every ListIdentifiers header (pycsw#677, fixed in pycsw 3): give each
    header those of its own record."""

    def response(self, response, kvp, repository, server_url):  # noqa: ANN001, ANN201 - pycsw's signature
        verb = kvp.get("verb")  # pycsw pops it
        node = super().response(response, kvp, repository, server_url)
        if verb == "ListIdentifiers" and len(response) > 1:
            headers = node.findall(".//" + util.nspath_eval("oai:header", self.namespaces))
            for header, record in zip(headers, response[1], strict=False):
                for name in ("identifier", "dateStamp"):
                    # pycsw's paths are absolute ('//a|//b'): make each one relative to the record
                    xpath = "|".join("." + p for p in self.metadata_formats[self.metadata_prefix][name].split("|"))
                    values = record.xpath(xpath, namespaces=self.context.namespaces)
                    element = header.find(util.nspath_eval(f"oai:{name}", self.namespaces))
                    if values and element is not None:
                        element.text = values[0].text
        return node


# what server.Csw instantiates and uses
csw2.etree = csw3.etree = _SchemaCache()
repository.Repository = _Repository
oaipmh.OAIPMH = _OAIPMH

_PATH = re.compile(r"^/([a-z][a-z0-9_-]*)/csw(?:/(oaipmh|opensearch))?/?$")


def application(environ: dict, start_response: Callable) -> Iterable[bytes]:
    match = _PATH.match(environ.get("PATH_INFO", ""))
    config = match and os.path.join(os.environ["ONEMAP_PYCSW_CONFIG_DIR"], f"{match.group(1)}.cfg")
    if not match or not os.path.isfile(config):
        start_response("404 Not Found", [("Content-Type", "text/plain; charset=utf-8")])
        return [b"no such catalogue endpoint"]
    mode = match.group(2)
    if mode:
        query = environ.get("QUERY_STRING", "")
        if mode == "opensearch" and not query:
            # the bare endpoint answers with its OpenSearch description
            query = "service=CSW&version=3.0.0&request=GetCapabilities"
        environ["QUERY_STRING"] = f"mode={mode}&{query}" if query else f"mode={mode}"
    _faults.database = False
    csw = server.Csw(config, environ)
    status, contents = csw.dispatch_wsgi()
    if _faults.database:  # the gateway answers 503 with Retry-After
        start_response("503 Service Unavailable", [("Content-Type", "text/plain; charset=utf-8")])
        return [b"database unavailable"]
    start_response(status, [("Content-Type", str(csw.contenttype)), ("Content-Length", str(len(contents)))])
    return [contents]
