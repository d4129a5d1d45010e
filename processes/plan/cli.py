"""`onemap plan …`: results management from the command line (the same
functions as the processes). The operator at the console acts as admin and
is recorded as cli:<name>."""

from __future__ import annotations

import datetime as dt
import getpass
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from onemap.core.auth import Principal
from onemap.core.errors import OneMapError
from onemap.core.settings import Settings

if TYPE_CHECKING:
    from processes.qc.record import CheckRecord


def _principal(by: str | None) -> Principal:
    return Principal(name=f"cli:{by or getpass.getuser()}", role="admin")


def _url() -> str:
    return Settings.from_env().database_url


def _say(percent: int, message: str) -> None:
    click.echo(f"  [{percent:3d}%] {message}", err=True)


def _fail(exc: OneMapError) -> None:
    click.echo(f"{exc.problem.zh}\n{exc.problem.en}", err=True)
    sys.exit(2)


def _write_check(record: CheckRecord, out: Path | None) -> None:
    summary = record.result.summary()
    click.echo(json.dumps({k: summary[k] for k in ("verdict_zh", "verdict_en", "errors", "warnings",
                                                   "edition", "seconds")}, ensure_ascii=False))
    for rule in summary["by_rule"]:
        if rule["count"]:
            click.echo(f"  {rule['rule']:<20} {rule['severity']:<8} {rule['count']:>8}  {rule['title_zh']}")
    if out:
        from processes.qc.record import error_gpkg, report_pdf
        from processes.qc.report import report_html

        out.mkdir(parents=True, exist_ok=True)
        (out / "report.html").write_text(report_html(record.result), encoding="utf-8")
        (out / "report.pdf").write_bytes(report_pdf(record))
        (out / "errors.gpkg").write_bytes(error_gpkg(record))
        (out / "findings.json").write_text(json.dumps([f.as_dict() for f in record.result.findings],
                                                      ensure_ascii=False), encoding="utf-8")
        click.echo(f"报告 / report: {out}/report.pdf, {out}/errors.gpkg")


@click.group()
def plan() -> None:
    """成果管理 / plan results: submit, check, publish, history, compare."""


@plan.command()
@click.argument("package", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--edition", help="标准版本 / edition of the specification")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), help="报告目录 / report folder")
@click.option("--by", help="检查人 / who checks")
def qc(package: Path, edition: str | None, out: Path | None, by: str | None) -> None:
    """质检 / check a package (recorded, not submitted)."""
    from processes.qc.record import check_package

    try:
        record = check_package(_url(), package, _principal(by), edition=edition, progress=_say)
    except OneMapError as exc:
        _fail(exc)
    _write_check(record, out)
    sys.exit(0 if record.result.passed else 1)


@plan.command()
@click.argument("package", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--title", required=True, help="成果名称 / title of the plan")
@click.option("--edition")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path))
@click.option("--by", help="提交人 / who submits")
def submit(package: Path, title: str, edition: str | None, out: Path | None, by: str | None) -> None:
    """提交 / submit a package: kept, checked, recorded."""
    from processes.plan.results import submit as submit_package

    try:
        sid, record = submit_package(_url(), package, title, _principal(by), edition=edition, progress=_say)
    except OneMapError as exc:
        _fail(exc)
    click.echo(f"提交编号 / submission: {sid}")
    _write_check(record, out)


@plan.command()
@click.argument("submission", type=int)
@click.option("--version", "plan_version", required=True, help="版本号 / version, e.g. 2021-2035-v3")
@click.option("--valid-from", required=True, help="生效时间 / RFC 3339 with time zone")
@click.option("--title")
@click.option("--by", help="发布人 / who publishes")
def publish(submission: int, plan_version: str, valid_from: str, title: str | None, by: str | None) -> None:
    """发布 / publish a checked submission as a new plan version."""
    from processes.plan.results import publish as publish_submission

    try:
        when = dt.datetime.fromisoformat(valid_from)
        version = publish_submission(_url(), submission, plan_version, when, _principal(by), title=title,
                                     progress=_say)
    except ValueError:
        click.echo(f"生效时间无效 / bad --valid-from: {valid_from}", err=True)
        sys.exit(2)
    except OneMapError as exc:
        _fail(exc)
    click.echo(f"已发布 / published {version.plan_version} (from {version.valid_from.isoformat()}, "
               f"previous {version.previous}): {version.layers}")


@plan.command()
def history() -> None:
    """版本历史 / every plan version."""
    from processes.plan.results import history as plan_history

    for v in plan_history(_url()):
        state = "现行 in force" if v["in_force"] else f"至 until {v['valid_to']}"
        click.echo(f"{v['plan_version']:<20} {v['valid_from']}  {state:<34} {v['published_by']:<16} "
                   f"{v['title']}  {v['features']}")


@plan.command()
@click.argument("from_version")
@click.argument("to_version")
@click.option("--layer", default="GHYDYH", show_default=True)
def diff(from_version: str, to_version: str, layer: str) -> None:
    """对比 / differences between two versions of a layer."""
    from processes.analysis.compare import layer_compare

    try:
        result = layer_compare(_url(), layer=layer, from_version=from_version, to_version=to_version)
    except OneMapError as exc:
        _fail(exc)
    c = result["changes"]
    click.echo(f"新增 added {c['added']}, 删除 removed {c['removed']}, 变化 changed {c['changed']}")
    for row in result["by_class"]:
        if row["change_m2"]:
            click.echo(f"  {row['code']:<6} {row['name']:<12} {row['change_ha']:>+14.4f} ha")


@plan.command()
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--version", "plan_version", help="规划版本，默认现行 / version, default in force")
@click.option("--epsg", type=click.Choice(["4490", "4546", "4525"]), default="4490", show_default=True)
@click.option("--format", "fmt", type=click.Choice(["gpkg", "shp-zip"]), default="gpkg", show_default=True)
def export(out: Path, plan_version: str | None, epsg: str, fmt: str) -> None:
    """导出数据包 / export the plan as a package."""
    from processes.plan.export import export_package

    click.echo(str(export_package(_url(), out, version=plan_version, epsg=int(epsg), fmt=fmt)))
