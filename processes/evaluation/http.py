"""Downloads of evaluation runs at the gateway:
/evaluation/runs/{run_id}/{ecology,agriculture,construction}.tif (COG, with
HTTP range requests, so GDAL and QGIS read them in place), report.pdf and
summary.json — for the roles that may run the evaluations, and only the
caller's own runs unless the role sees all jobs."""

from __future__ import annotations

from flask import Blueprint, Response, g, send_file

from onemap.core.access import AccessPolicy
from onemap.core.auth import sees_all_jobs
from onemap.core.errors import OneMapError, Problem
from onemap.core.settings import Settings
from processes.evaluation import service
from processes.evaluation.model import OUTPUTS

PROCESS_IDS = ("suitability-evaluation", "carrying-capacity-evaluation")
FILES = {**{f"{n}.tif": "image/tiff; application=geotiff; profile=cloud-optimized" for n in OUTPUTS},
         "report.pdf": "application/pdf", "summary.json": "application/json"}


def blueprint(settings: Settings, policy: AccessPolicy) -> Blueprint:
    bp = Blueprint("evaluation_runs", __name__)
    @bp.get("/evaluation/runs/<run_id>/<name>")
    def download(run_id: str, name: str) -> Response:
        # asked of the policy at each request: roles change while it runs
        problems = [policy.check_run(g.principal, process_id) for process_id in PROCESS_IDS]
        if all(problems):
            raise OneMapError(problems[0])
        summary = service.load_summary(settings, run_id)
        if summary.get("run_by") != g.principal.name and not sees_all_jobs(g.principal):
            raise OneMapError(Problem(404, "NotFound", f"评价运行 {run_id} 不存在", f"No evaluation run {run_id}",
                                      field="runId"))
        if name not in FILES:
            raise OneMapError(Problem(404, "NotFound", f"评价结果中没有 {name}；可用：{'、'.join(FILES)}",
                                      f"No {name} in the run; one of {', '.join(FILES)}", field="name"))
        return send_file(service.run_path(settings, run_id, name), mimetype=FILES[name], conditional=True)

    return bp


def health() -> str:
    """/healthz: the methods load and the factor rasters are on one grid."""
    from processes.evaluation.compute import check_factors
    from processes.evaluation.method import load_methods

    methods = load_methods()
    if not methods:
        raise RuntimeError("no evaluation method in config/evaluation/")
    settings = Settings.from_env()
    for method in methods.values():
        transform, width, height = check_factors(settings.evaluation_dir / "factors", method.factors)
    return f"{len(methods)} methods, factor rasters {width} × {height} at {transform.a:g} m"
