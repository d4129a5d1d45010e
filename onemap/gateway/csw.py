"""/csw: the catalogue (pycsw, its own process on loopback) behind the gateway.

`/csw` is the CSW 2.0.2 / 3.0 endpoint (GET KVP and POST XML),
`/csw/oaipmh` and `/csw/opensearch` its OAI-PMH and OpenSearch bindings.
Anonymous and egov callers reach the public pycsw configuration (records of
public layers and the directory), staff and admin the internal one;
Transaction and Harvest need a role that administers `catalogue`
(config/gateway.yaml, or a role made on the admin page).
"""

from __future__ import annotations

import requests
from flask import Flask, Response, g, request
from requests.adapters import HTTPAdapter

from catalogue.operations import bilingual_report, exception_report, operation_of
from catalogue.service import endpoints
from onemap.core.access import AccessPolicy
from onemap.core.auth import Principal, challenge
from onemap.core.errors import DATABASE_DOWN, RETRY_AFTER_S, OneMapError, Problem
from onemap.core.settings import Settings
from onemap.gateway.health import HealthCheck

_TIMEOUT = 600  # a Harvest of a large source takes a while


def report_response(problem: Problem) -> Response:
    response = Response(exception_report(problem), status=problem.status,
                        content_type="application/xml; charset=UTF-8")
    if problem.status == 401:
        response.headers["WWW-Authenticate"] = challenge(request.headers.get("Authorization", ""))
    if problem.status == 503:
        response.headers["Retry-After"] = RETRY_AFTER_S
    return response


def register_csw(app: Flask, settings: Settings, policy: AccessPolicy) -> None:
    session = requests.Session()
    session.mount("http://", HTTPAdapter(pool_maxsize=16))

    @app.route("/csw", methods=["GET", "POST"], defaults={"mode": None})
    @app.route("/csw/<any(oaipmh, opensearch):mode>", methods=["GET", "POST"])
    def csw(mode: str | None) -> Response:
        principal: Principal = g.principal
        body = request.get_data(cache=True) if request.method == "POST" else b""
        try:
            operation = operation_of(request.method, request.args, body)
        except OneMapError as exc:
            return report_response(exc.problem)
        if operation.manages:
            g.audit = True  # a state change even when it comes as GET
            problem = policy.check_admin(principal, "catalogue")
            if problem:
                return report_response(problem)
        # Transaction and Harvest change the one repository: the internal
        # configuration is the one that takes them (the public one is read-only)
        endpoint = endpoints(settings).get("internal" if operation.manages else policy.audience(principal))
        if endpoint is None:
            return report_response(Problem(503, "NoApplicableCode", "目录服务（pycsw）未运行",
                                           "The catalogue service (pycsw) is not running"))
        url = endpoint + (f"/{mode}" if mode else "")
        if request.query_string:
            url += "?" + request.query_string.decode("latin-1")
        try:
            upstream = session.request(request.method, url, data=body or None, timeout=_TIMEOUT,
                                       headers={"Content-Type": request.content_type or "application/xml"})
        except requests.RequestException as exc:
            return report_response(Problem(502, "NoApplicableCode", "目录服务（pycsw）无响应",
                                           f"The catalogue service (pycsw) did not answer: {exc.__class__.__name__}"))
        content, status = upstream.content, upstream.status_code
        if status == 503:  # pycsw lost its database (catalogue/server/wsgi.py)
            return report_response(DATABASE_DOWN)
        if status >= 500:
            return report_response(Problem(502, "NoApplicableCode", "目录服务（pycsw）内部错误",
                                           f"The catalogue service (pycsw) failed with HTTP {status}"))
        translated = bilingual_report(content)
        if translated:
            status, content = translated
        return Response(content, status=status,
                        content_type=upstream.headers.get("Content-Type", "application/xml; charset=UTF-8"))


def csw_checks(settings: Settings) -> list[HealthCheck]:
    """pycsw answers, per configuration, with its record count."""

    def check(audience: str) -> str:
        endpoint = endpoints(settings).get(audience)
        if endpoint is None:
            raise RuntimeError("pycsw is not running")
        response = requests.get(endpoint, timeout=10, params={
            "service": "CSW", "version": "2.0.2", "request": "GetRecords", "typenames": "csw:Record",
            "resulttype": "hits", "elementsetname": "brief"})
        marker = b'numberOfRecordsMatched="'
        if response.status_code != 200 or marker not in response.content:
            raise RuntimeError(f"GetRecords -> HTTP {response.status_code}")
        count = response.content.split(marker, 1)[1].split(b'"', 1)[0].decode()
        return f"CSW GetRecords -> {count} records"

    return [HealthCheck(f"pycsw-{audience}", lambda a=audience: check(a)) for audience in ("public", "internal")]
