"""`onemap indicators …`: the indicator catalogue, models, statistics and
monitoring values from the command line (the same functions as the
processes). The operator at the console is recorded as cli:<name>."""

from __future__ import annotations

import getpass
import json
import sys
from pathlib import Path

import click
import psycopg

from onemap.core import audit
from onemap.core.auth import Principal
from onemap.core.errors import OneMapError
from onemap.core.settings import Settings
from processes.base import pdf_from_html
from processes.supervision import (
    catalogue,
    evaluation,
    horizontal,
    monitoring,
    transmission,
    warning,
)


def _principal() -> Principal:
    return Principal(name=f"cli:{getpass.getuser()}", role="admin")


def _url() -> str:
    return Settings.from_env().database_url


def _fail(exc: OneMapError) -> None:
    click.echo(f"{exc.problem.zh}\n{exc.problem.en}", err=True)
    sys.exit(2)


@click.group()
def indicators() -> None:
    """指标管理 / indicators: catalogue, models, statistics, monitoring values."""


@indicators.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def import_table(file: Path) -> None:
    """导入指标表 / load an official indicator table (CSV: code, name_zh,
    name_en, system, dimension, category, unit, type, direction, definition)."""
    try:
        n = catalogue.import_official_table(_url(), file.read_text(encoding="utf-8"), _principal())
    except OneMapError as exc:
        _fail(exc)
    click.echo(f"已导入 {n} 项指标 / {n} indicators loaded")


@indicators.command("list")
@click.option("--system", help="指标体系 / system id, e.g. guide-35, checkup")
def list_indicators(system: str | None) -> None:
    """指标目录 / the catalogue, by system and group."""
    with psycopg.connect(_url()) as conn:
        catalogue.sync(conn, _principal().name)
        rows = catalogue.listing(conn, system)
    for r in rows:
        click.echo(f"{r['system']:<10} {r['dimension']:<8} {r['code']:<10} {r['unit']:<8} {r['type']:<4} "
                   f"{r['model'] or '统计 stats':<32} {r['name_zh']} / {r['name_en']}")


@indicators.command()
@click.argument("code")
def show(code: str) -> None:
    """指标详情 / one item, its systems and its model's active version (JSON)."""
    with psycopg.connect(_url()) as conn:
        catalogue.sync(conn, _principal().name)
        try:
            item = catalogue.describe(conn, code)
        except OneMapError as exc:
            _fail(exc)
    click.echo(json.dumps(item, ensure_ascii=False, indent=2))


@indicators.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--source", type=click.Choice(monitoring.VALUE_SOURCES), default="imported", show_default=True)
def stats(file: Path, source: str) -> None:
    """导入统计数据 / load statistics per unit and year (CSV: code, xzqdm,
    period, value, unit)."""
    try:
        n = monitoring.import_statistics(_url(), file.read_text(encoding="utf-8"), _principal(), source)
    except OneMapError as exc:
        _fail(exc)
    click.echo(f"已导入 {n} 个数值 / {n} values loaded")


@indicators.command()
@click.option("--year", type=int, required=True, help="监测年度 / year")
@click.option("--indicator", "codes", multiple=True, help="指标编码，默认全部 / indicator code (repeatable)")
def compute(year: int, codes: tuple[str, ...]) -> None:
    """计算监测值 / compute and store the model-computed values of a year."""
    try:
        values = monitoring.compute_and_store(_url(), year, _principal(), list(codes) or None)
    except OneMapError as exc:
        _fail(exc)
    click.echo(f"{year} 年：{len(values)} 个监测值 / {len(values)} values for {year}")


@indicators.command("model-add")
@click.argument("model")
@click.argument("params")
def model_add(model: str, params: str) -> None:
    """新增模型版本并启用 / add a model version (PARAMS: JSON with kind and
    parameters) and make it the active one."""
    try:
        parsed = json.loads(params)
    except ValueError:
        click.echo("参数应为 JSON / PARAMS must be JSON", err=True)
        sys.exit(2)
    with psycopg.connect(_url()) as conn:
        catalogue.sync(conn, _principal().name)
        version = conn.execute("SELECT coalesce(max(version), 0) + 1 FROM supervision.model_version "
                               "WHERE model = %s", (model,)).fetchone()[0]
        catalogue.add_model_version(conn, model, version, parsed, _principal().name)
        audit.record(conn, _principal(), "indicators.model-add", f"model/{model}/{version}", 200,
                     detail={"params": parsed})
    click.echo(f"{model} v{version} 已启用 / active")


@indicators.group()
def model() -> None:
    """模型版本管理 / model versions: list, activate, roll back."""


@model.command("list")
@click.argument("name", required=False)
def model_list(name: str | None) -> None:
    """模型版本 / the stored versions of a model (or of all), * the active one."""
    with psycopg.connect(_url()) as conn:
        catalogue.sync(conn, _principal().name)
        try:
            versions = catalogue.model_versions(conn, name)
        except OneMapError as exc:
            _fail(exc)
    for v in versions:
        click.echo(f"{'*' if v['active'] else ' '} {v['model']:<32} v{v['version']:<3} {v['kind']:<12} "
                   f"{json.dumps(v['params'], ensure_ascii=False)}")


@model.command()
@click.argument("name")
@click.argument("version", type=int)
def activate(name: str, version: int) -> None:
    """启用模型版本 / make a stored version the active one."""
    try:
        result = catalogue.activate_model(_url(), name, version, _principal())
    except OneMapError as exc:
        _fail(exc)
    click.echo(f"{name} v{result['active']} 已启用 / active (was v{result['previous']})")


@model.command()
@click.argument("name")
def rollback(name: str) -> None:
    """回退模型版本 / make the version before the active one active again."""
    try:
        result = catalogue.activate_model(_url(), name, None, _principal())
    except OneMapError as exc:
        _fail(exc)
    click.echo(f"{name} 已回退到 v{result['active']} / rolled back from v{result['previous']}")


@indicators.command()
@click.option("--year", type=int, required=True, help="监测年度 / year")
def warn(year: int) -> None:
    """监测预警 / assess a year's stored values and raise new warnings."""
    try:
        result = warning.evaluate(_url(), year, _principal())
    except OneMapError as exc:
        _fail(exc)
    levels = result["levels"]
    click.echo(f"{year} 年：绿色 {levels['green']}，黄色 {levels['yellow']}，红色 {levels['red']}；"
               f"新预警 {len(result['raised'])} / new warnings")


@indicators.command()
@click.option("--year", type=int, help="监测年度 / year")
@click.option("--all", "everything", is_flag=True, help="含已关闭 / include closed ones")
def warnings(year: int | None, everything: bool) -> None:
    """预警列表 / the warnings, reddest first."""
    names = {"red": "红色", "yellow": "黄色"}
    for w in warning.listing(_url(), period=year, open_only=not everything):
        click.echo(f"#{w['id']:<5} {names[w['level']]} {w['period']} {w['xzqdm']:<10} {w['xzqmc'] or '':<8} "
                   f"{w['code']:<6} {w['name_zh']}: {w['value']:.4f} {w['unit']}（目标 target {w['target']:.4f}，"
                   f"{w['target_year']}） {w['state']}")


@indicators.command("warning-handle")
@click.argument("warning_id", type=int)
@click.argument("action", type=click.Choice(list(warning.ACTIONS)))
@click.option("--comment", required=True, help="处理意见 / comment")
def warning_handle(warning_id: int, action: str, comment: str) -> None:
    """预警处置 / acknowledge or close a warning with a comment."""
    try:
        w = warning.handle(_url(), warning_id, action, comment, _principal())
    except OneMapError as exc:
        _fail(exc)
    click.echo(f"#{w['id']} {w['state']}")


@indicators.command()
@click.argument("code")
@click.option("--target-year", type=int, required=True, help="目标年 / target year (2025, 2035)")
@click.option("--year", type=int, help="监测年度，默认同目标年 / year of the values")
@click.option("--pdf", type=click.Path(dir_okay=False, path_type=Path), help="报告 / write the PDF report")
def transmit(code: str, target_year: int, year: int | None, pdf: Path | None) -> None:
    """指标传导检查 / check the allocations of an indicator, city → counties → townships."""
    try:
        result = transmission.run(_url(), code, target_year, year or target_year, _principal())
    except OneMapError as exc:
        _fail(exc)
    click.echo(f"{result['indicator']['name_zh']} {target_year}：{result['status']}，"
               f"不合格节点 {result['violations']} / violations")
    if pdf:
        pdf.write_bytes(pdf_from_html(transmission.report_html(result)))
        click.echo(f"  → {pdf}")


@indicators.command("transmit-horizontal")
@click.option("--pdf", type=click.Path(dir_okay=False, path_type=Path), help="报告 / write the PDF report")
def transmit_horizontal(pdf: Path | None) -> None:
    """横向传导检查 / detailed and special plans against the master plan."""
    result = horizontal.run(_url(), _principal())
    for plan in result["tree"]:
        for node in plan["children"]:
            click.echo(f"{plan['name']['zh']}：{node['name']['zh']} {node['status']['zh']}")
    click.echo(f"{result['status']}，不合格检查项 {result['violations']} / violations")
    if pdf:
        pdf.write_bytes(pdf_from_html(horizontal.report_html(result)))
        click.echo(f"  → {pdf}")


@click.group()
def supervise() -> None:
    """实施监督 / supervision runs."""


@supervise.command("run")
@click.option("--year", type=int, required=True, help="年度 / year")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("."), show_default=True,
              help="报告目录 / where the reports are written")
def supervise_run(year: int, out: Path) -> None:
    """监测、预警、评估一次完成（可用于 cron）/ monitoring, warnings and the
    evaluation of every system for a year in one go (cron-ready)."""
    principal = _principal()
    try:
        click.echo(f"  [ 10%] 计算监测值 / computing {year}", err=True)
        values = monitoring.compute_and_store(_url(), year, principal)
        click.echo(f"  [ 60%] 预警 / warnings ({len(values)} values)", err=True)
        warned = warning.evaluate(_url(), year, principal)
        out.mkdir(parents=True, exist_ok=True)
        for system in catalogue.load_systems():
            click.echo(f"  [ 80%] 评估 / evaluating {system.id}", err=True)
            _, pdf = evaluation.run(_url(), system.id, year, principal)
            (out / f"evaluation-{system.id}-{year}.pdf").write_bytes(pdf)
    except OneMapError as exc:
        _fail(exc)
    levels = warned["levels"]
    click.echo(f"{year}：{len(values)} 个监测值；绿色 {levels['green']}，黄色 {levels['yellow']}，红色 {levels['red']}；"
               f"新预警 {len(warned['raised'])}；报告 / reports in {out}")
