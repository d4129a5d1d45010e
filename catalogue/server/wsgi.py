"""The WSGI application gunicorn serves from `.venv-pycsw`, on loopback.

One process serves several pycsw configurations, one a path prefix:
`/<name>/csw` answers with `<ONEMAP_PYCSW_CONFIG_DIR>/<name>.cfg` (the
`public` and `internal` configurations of the stack; a test's provincial
platform). Unlike `pycsw.wsgi`, the configuration never comes from the
request (pycsw's `config=` parameter), so no client can pick one with
another repository filter. `/<name>/csw/oaipmh` and `/<name>/csw/opensearch`
are pycsw's OAI-PMH and OpenSearch modes of the same endpoint.
"""

import os
import re
from collections.abc import Callable, Iterable

from pycsw import server

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
    csw = server.Csw(config, environ)
    status, contents = csw.dispatch_wsgi()
    start_response(status, [("Content-Type", str(csw.contenttype)), ("Content-Length", str(len(contents)))])
    return [contents]
