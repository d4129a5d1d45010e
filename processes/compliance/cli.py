"""`onemap check FILE --stage 用地预审 --use 1001`: a compliance check from
the command line, stored in the history like any other, reports written."""

from __future__ import annotations

import base64
import getpass
import json
import sys
from pathlib import Path

import click

from onemap.core.auth import Principal
from onemap.core.errors import OneMapError
from onemap.core.settings import Settings
from processes.compliance import service


@click.command("check")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--stage", required=True, help="业务阶段 / business stage, e.g. 用地预审")
@click.option("--use", "use_code", required=True, help="拟用地用途代码 / project land-use code, e.g. 1001")
@click.option("--case-id", default="", help="案件编号 / case id")
@click.option("--name", "project_name", default="", help="项目名称 / project name")
@click.option("--crs", default=None, help="坐标参考系，文件未说明时 / CRS when the file does not state it")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("."),
              show_default=True, help="报告输出目录 / where the reports are written")
def check(file: Path, stage: str, use_code: str, case_id: str, project_name: str, crs: str | None,
          out_dir: Path) -> None:
    """合规性检测 / check a project boundary (GeoJSON, coordinate TXT, WKT,
    zipped shapefile, GeoPackage) against the rule set of a business stage."""
    settings = Settings.from_env()
    inputs = {"boundary_file": {"value": base64.b64encode(file.read_bytes()).decode("ascii"), "encoding": "base64",
                                "filename": file.name},
              "stage": stage, "use_code": use_code, "case_id": case_id, "project_name": project_name}
    if crs:
        inputs["crs"] = crs
    try:
        checked = service.check(settings.database_url, inputs, Principal(f"cli:{getpass.getuser()}", "cli"))
    except OneMapError as exc:
        click.echo(f"检测未进行 / not checked: {exc.problem.zh}\n  {exc.problem.en}", err=True)
        sys.exit(2)
    result = checked.stored.result
    check_id = checked.stored.check_id
    out_dir.mkdir(parents=True, exist_ok=True)
    written = {fmt: out_dir / f"{check_id}.{fmt}" for fmt in ("json", "geojson", "html", "pdf")}
    written["json"].write_text(json.dumps(result, ensure_ascii=False, indent=2), encoding="utf-8")
    written["geojson"].write_text(json.dumps(checked.overlaps, ensure_ascii=False), encoding="utf-8")
    for fmt in ("html", "pdf"):
        written[fmt].write_bytes(service.report_bytes(settings.database_url, check_id, fmt, settings.base_url))
    area = result["boundary"]
    click.echo(f"检测编号 / check id: {check_id}")
    click.echo(f"项目面积 / area: {area['area_m2']:,.2f} m² = {area['area_ha']:,.4f} ha = {area['area_mu']:,.2f} 亩")
    for finding in result["findings"]:
        click.echo(f"  {finding['verdict']:<4} {finding['rule']:<16} {finding['overlap_m2']:>14,.2f} m²  "
                   f"{finding['message']['zh']}")
    click.echo(f"检测结论 / verdict: {result['verdict']} ({result['verdict_en']})")
    for path in written.values():
        click.echo(f"  → {path}")
