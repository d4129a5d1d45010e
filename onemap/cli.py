"""The `onemap` command: thin shells around the functions of the package."""

from __future__ import annotations

import getpass
import logging
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import click

from catalogue import service as catalogue_service
from catalogue.config import config_dir
from catalogue.directory import DIRECTORY_FILE, CatalogueError
from onemap import stack
from onemap.core import configstore, logs
from onemap.core.auth import Principal
from onemap.core.components import Components, load_object
from onemap.core.db import connect
from onemap.core.errors import OneMapError
from onemap.core.settings import ROOT, Settings

LOGGER = logging.getLogger("onemap.cli")


def say(message: str) -> None:
    click.echo(click.style("[onemap] ", bold=True) + message)


@click.group()
@click.pass_context
def main(ctx: click.Context) -> None:
    """国土空间规划"一张图" / One Map service stack."""
    settings = Settings.from_env()
    logs.configure("cli", settings.log_dir, settings.gateway["logging"])
    logs.REQUEST_ID.set(logs.request_id_from(None))  # one id a command: its log lines and audit rows
    LOGGER.info("onemap %s", ctx.invoked_subcommand)


@main.command()
@click.option("--scale", type=click.Choice(["small", "city"]), default="small", show_default=True,
              help="示例城市规模 / demo city scale, when it is loaded")
@click.option("--seed", type=int, default=1, show_default=True)
@click.option("--reload", is_flag=True, help="重新加载示例城市 / reload the demo city")
def up(scale: str, seed: int, reload: bool) -> None:
    """启动全部服务 / start every service (idempotent)."""
    settings = Settings.from_env()
    # the partners' local stand-ins: a newcomer sees the integrations work
    stack.up(settings, say, scale=scale, seed=seed, reload=reload, standins_enabled=True)
    base = settings.base_url
    say("一张图已启动 / One Map is up:")
    for path, what in [("/", "viewer"), ("/ogc/", "OGC API"), ("/csw", "CSW catalogue"), ("/healthz", "health")]:
        click.echo(f"    {base}{path:<10} {what}")


@main.command()
@click.option("--load-demo/--no-load-demo", default=True, show_default=True,
              help="数据库为空时加载示例城市 / load the demo city into an empty database")
def serve(load_demo: bool) -> None:
    """前台运行网关（容器用）/ run the gateway in the foreground (for containers)."""
    settings = Settings.from_env()
    url = stack.start_database(settings, say)
    with stack.one_replica_at_a_time(url):  # replicas start together (docker-compose.yml)
        if load_demo and not stack.demo_loaded(url):
            stack.load_demo(url, "small", 1, say)
        stack.generate_config(settings, url)
    cmd = stack.gunicorn_command(settings, daemon=False)
    os.execve(cmd[0], cmd, stack.gateway_env(settings, url))


@main.command()
def down() -> None:
    """停止全部服务 / stop everything `up` started."""
    stack.down(Settings.from_env(), say)


@main.command(context_settings={"ignore_unknown_options": True})
@click.argument("pytest_args", nargs=-1, type=click.UNPROCESSED)
def test(pytest_args: tuple[str, ...]) -> None:
    """在独立实例上运行全部测试 / run the test suite on a stack of its own."""
    var_dir = Path(os.environ.get("ONEMAP_TEST_VAR", ROOT / "var" / "test"))
    env = {k: v for k, v in os.environ.items()
           if k not in ("DATABASE_URL", "ONEMAP_URL", "ONEMAP_PUBLIC_URL")}
    env["ONEMAP_VAR"] = str(var_dir)
    stack.down(Settings.from_env(env), say)  # what an interrupted earlier run left
    shutil.rmtree(var_dir, ignore_errors=True)
    # a copy of the configuration: tests change it through the admin API
    # without touching the checkout
    shutil.copytree(Settings.from_env().config_dir, var_dir / "config")
    env["ONEMAP_CONFIG"] = str(var_dir / "config")
    env.update({"ONEMAP_PORT": str(stack.free_port()), "ONEMAP_PG_PORT": str(stack.free_port())})
    # one gateway process of four threads: the suite's own processes, the
    # database and MapServer keep the two cores busy, and each further
    # gateway process only adds its start to every reload of the suite
    # (measured: three 17 min, two 12.5 min)
    env.setdefault("ONEMAP_WORKERS", "1")
    settings = Settings.from_env(env)
    os.environ.update(env)
    code = 1
    try:
        url = stack.up(settings, say)
        env.update({"DATABASE_URL": url, "ONEMAP_URL": settings.base_url})
        code = _run_pytest(list(pytest_args), env)
    finally:
        stack.down(settings, say)
    sys.exit(code)


# Tests marked so change what other files see: they run after the others, alone.
ALONE = "serial or restarts_database or stops_a_backend"
NO_TESTS = 5  # pytest's exit code for a run that selected no test (a phase may)


def _run_pytest(args: list[str], env: dict[str, str]) -> int:
    """The suite in two phases: the files in ONEMAP_TEST_WORKERS processes at
    once (pytest-xdist, default 3: a test often waits on the stack, and a
    third process keeps two cores busy then), then the tests marked to run alone. Arguments that choose the
    tests' marks or processes themselves (-m, -n) get one plain run."""
    workers = env.get("ONEMAP_TEST_WORKERS", "3")
    chooses = any(a in ("-m", "-n") or a.startswith(("-m", "-n", "--numprocesses")) for a in args)
    if chooses or workers == "0":
        return subprocess.call([sys.executable, "-m", "pytest", *args], cwd=ROOT, env=env)
    phases = [["-n", workers, "-m", f"not ({ALONE})"], ["-m", ALONE]]  # tests/conftest.py schedules
    codes = [subprocess.call([sys.executable, "-m", "pytest", *phase, *args], cwd=ROOT, env=env)
             for phase in phases]
    failed = [c for c in codes if c not in (0, NO_TESTS)]
    return failed[0] if failed else (0 if 0 in codes else NO_TESTS)


@main.group()
def demo() -> None:
    """示例城市 / the demo city."""


@demo.command("load")
@click.option("--scale", type=click.Choice(["small", "city"]), default="small", show_default=True)
@click.option("--seed", type=int, default=1, show_default=True)
def demo_load(scale: str, seed: int) -> None:
    """生成并加载示例城市 / generate and load the demo city (replaces its tables)."""
    settings = Settings.from_env()
    url = stack.start_database(settings, say)
    stack.load_demo(url, scale, seed, say)
    if catalogue_service.running_port(settings):
        catalogue_service.publish(settings, url, say)  # extents changed
    stack.generate_config(settings, url)
    if stack.gateway_pid(settings):
        stack.start_gateway(settings, url, say)  # reload: extents changed


@main.group()
def token() -> None:
    """访问令牌 / access tokens."""


@token.command("create")
@click.option("--role", required=True, help="角色（配置或管理接口中定义）/ a role (config/gateway.yaml or made in /admin/)")
@click.option("--name", required=True, help="持有人（系统账户名）/ holder of the token (a system account)")
@click.option("--days", type=click.IntRange(1, 3650), default=None,
              help="有效天数（默认见 accounts.token_days）/ lifetime in days (default: accounts.token_days)")
def token_create(role: str, name: str, days: int | None) -> None:
    """创建令牌并打印 / create a token and print it (shown only once)."""
    from onemap.core.accounts import create_token

    try:
        click.echo(create_token(Settings.from_env().database_url, role, name, days))
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--role") from None


@token.command("revoke")
@click.option("--name", required=True)
def token_revoke(name: str) -> None:
    """吊销某持有人的全部令牌 / revoke every token of a holder."""
    from onemap.core.accounts import revoke_token

    say(f"已吊销 / revoked: {revoke_token(Settings.from_env().database_url, name)}")


@main.group()
def user() -> None:
    """用户 / user accounts (the same functions as /admin/users)."""


def _account_change(action: str, name: str, work: Callable[..., dict]) -> dict:
    """Run `work(conn, known roles, account settings)` with its audit row,
    as the operating-system user at the console; bad input is a usage error."""
    from onemap.core import accounts, audit

    settings = Settings.from_env()
    try:
        with connect(settings.database_url) as conn:
            result = work(conn, accounts.role_names(conn, settings.gateway),
                          accounts.AccountSettings.from_gateway(settings.gateway))
            audit.record(conn, _operator(), action, f"user:{name}", 200)
    except OneMapError as exc:
        raise click.UsageError(f"{exc.problem.zh} / {exc.problem.en}") from None
    return result


@user.command("add")
@click.argument("name")
@click.option("--role", "roles", multiple=True, help="角色，可多次 / a role (repeatable)")
@click.option("--display-name", default="", help="显示名称 / display name")
@click.option("--department", default="", help="部门 / department")
@click.password_option(help="密码（不给出则提示输入）/ password (prompted when not given)")
def user_add(name: str, roles: tuple[str, ...], display_name: str, department: str, password: str) -> None:
    """新建用户 / add a user."""
    from onemap.core.accounts import create_account

    data = {"name": name, "roles": list(roles), "display_name": display_name, "department": department,
            "password": password}
    _account_change("accounts.user.create", name, lambda conn, known, cfg: create_account(conn, data, known, cfg))
    say(f"已创建用户 / user added: {name} ({', '.join(roles) or '-'})")


@user.command("passwd")
@click.argument("name")
@click.password_option(help="新密码 / the new password")
def user_passwd(name: str, password: str) -> None:
    """重设密码（并解除锁定）/ reset a password (and unlock)."""
    from onemap.core.accounts import update_account

    _account_change("accounts.user.password", name,
                    lambda conn, known, cfg: update_account(conn, name, {"password": password}, known, cfg))
    say(f"已重设密码 / password reset: {name}")


@user.command("disable")
@click.argument("name")
def user_disable(name: str) -> None:
    """停用用户（令牌与会话随之失效）/ deactivate a user (its tokens and sessions stop working)."""
    from onemap.core.accounts import update_account

    _account_change("accounts.user.deactivate", name,
                    lambda conn, known, cfg: update_account(conn, name, {"active": False}, known, cfg))
    say(f"已停用 / deactivated: {name}")


@user.command("list")
def user_list() -> None:
    """列出用户 / list the users."""
    from onemap.core.accounts import list_accounts
    from onemap.core.db import connect

    with connect(Settings.from_env().database_url) as conn:
        rows = list_accounts(conn)
    for row in rows:
        state = "启用 active" if row["active"] else "停用 inactive"
        kind = "系统 system" if row["system"] else "用户 user"
        click.echo(f"{row['name']:<24} {kind:<10} {state:<12} {','.join(row['roles']) or '-':<20} "
                   f"{row['display_name']} {row['department']}".rstrip())


@main.group()
def tiles() -> None:
    """地图瓦片缓存 / map tile caches."""


@tiles.command("seed")
@click.option("--layer", "name", required=True, help="图层或图层组 / layer id or group (XZ, GH, SX, one_map)")
@click.option("--levels", required=True, help="级别范围 / zoom levels a-b, e.g. 0-12")
@click.option("--grid", "grids", multiple=True, help="瓦片网格 / WebMercatorQuad or CGCS2000 (default both)")
@click.option("--concurrency", type=int, default=2, show_default=True)
@click.option("--refresh", is_flag=True, help="重新生成已有瓦片 / re-render cached tiles too")
def tiles_seed(name: str, levels: str, grids: tuple[str, ...], concurrency: int, refresh: bool) -> None:
    """预生成瓦片 / seed the tile cache of a layer over its data's extent."""
    from onemap.core import db
    from onemap.core.registry import load_layers
    from onemap.maps.seed import SeedError, parse_levels, seed

    settings = Settings.from_env()
    layers = load_layers(settings.config_dir / "layers.yaml")
    try:
        report = seed(settings, layers, name, parse_levels(levels),
                      db.layer_extents(settings.database_url, layers), list(grids) or None, concurrency, refresh)
    except SeedError as exc:
        raise click.BadParameter(str(exc)) from exc
    say(f"已生成 / seeded {report.tiles} tiles in {report.seconds:.1f} s "
        f"({report.rate:.1f} tiles/s): {', '.join(report.caches)}")


@main.group("catalogue")
def catalogue_group() -> None:
    """数据目录服务 / the catalogue (CSW, OGC API Records)."""


@catalogue_group.command("publish")
@click.option("--directory", "directory_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=DIRECTORY_FILE, show_default=True, help="数据目录 / the data directory YAML")
def catalogue_publish(directory_file: Path) -> None:
    """发布数据目录与图层元数据 / publish the ISO 19139 records of the directory and the layers."""
    settings = Settings.from_env()
    url = settings.database_url
    try:
        catalogue_service.prepare(settings, url)
        catalogue_service.publish(settings, url, say, directory_file)
    except CatalogueError as exc:
        raise click.ClickException(str(exc)) from exc


@catalogue_group.command("harvest")
@click.argument("source")
@click.option("--prefix", required=True, help="对方记录的标识符前缀 / identifier prefix of the partner's records")
def catalogue_harvest(source: str, prefix: str) -> None:
    """收割对方 CSW 的记录（只读，按前缀镜像）/ harvest a partner's CSW records under its prefix (cron-ready)."""
    from catalogue.harvest import harvest

    try:
        counts = harvest(Settings.from_env(), source, prefix)
    except CatalogueError as exc:
        raise click.ClickException(str(exc)) from exc
    say(f"已收割 / harvested {source}: new {counts['inserted']}, updated {counts['updated']}, "
        f"deleted {counts['deleted']}")


@catalogue_group.command("serve")
@click.option("--port", type=int, default=8001, show_default=True)
def catalogue_serve(port: int) -> None:
    """前台运行目录服务（容器用）/ run pycsw in the foreground (for containers)."""
    settings = Settings.from_env()
    url = stack.start_database(settings, say)
    deadline = time.monotonic() + 600
    while not stack.demo_loaded(url) and time.monotonic() < deadline:
        time.sleep(5)  # the gateway loads the data on its first start; extents come from it
    catalogue_service.prepare(settings, url)
    catalogue_service.publish(settings, url, say)
    cmd = catalogue_service.gunicorn_command(config_dir(settings), port, None, None, host="0.0.0.0")
    os.execv(cmd[0], cmd)


@main.group("config", invoke_without_command=True)
@click.pass_context
def config_group(ctx: click.Context) -> None:
    """服务配置与配置管理 / service configuration and configuration management.

    Without a subcommand: generate the service configuration from the
    registry (as `make up` does)."""
    if ctx.invoked_subcommand is None:
        ctx.invoke(config_generate)


@config_group.command("generate")
def config_generate() -> None:
    """由图层注册表生成服务配置 / generate the service configuration from the registry."""
    settings = Settings.from_env()
    for path in stack.generate_config(settings, settings.database_url):
        say(str(path))


def _operator() -> Principal:
    # the CLI runs on the server: whoever can run it is the operator
    return Principal(f"cli:{getpass.getuser()}", "cli")


def _applied(version: configstore.ConfigVersion, settings: Settings) -> None:
    reloaded = stack.apply_config(settings, settings.database_url)
    say(f"{version.path} 版本 {version.version} 已生效 / version {version.version} in use"
        + ("，网关已重新加载 / gateway reloaded" if reloaded else ""))


@config_group.command("set")
@click.argument("path")
@click.argument("source", type=click.File("rb"))
@click.option("--comment", default="", help="修改说明 / what changed and why")
@click.option("--label", default=None, help="版本名称 / a name for this version")
def config_set(path: str, source: click.utils.LazyFile, comment: str, label: str | None) -> None:
    """校验并启用配置文件的新内容 / check, version and apply new content for a configuration file."""
    settings = Settings.from_env()
    with _cli_errors(), connect(settings.database_url) as conn:
        version = configstore.change(conn, _operator(), settings.config_dir, path, source.read(), comment, label)
    _applied(version, settings)


@config_group.command("history")
@click.argument("path")
def config_history(path: str) -> None:
    """配置文件的版本历史 / the versions of a configuration file."""
    settings = Settings.from_env()
    with _cli_errors(), connect(settings.database_url) as conn:
        for v in configstore.history(conn, configstore.relative_path(settings.config_dir, path)):
            click.echo(f"{v.version}\t{v.label or '-'}\t{v.at:%Y-%m-%d %H:%M:%S}\t{v.author}\t{v.comment}")


@config_group.command("rollback")
@click.argument("path")
@click.argument("version")
@click.option("--comment", default="")
def config_rollback(path: str, version: str, comment: str) -> None:
    """回退到某一版本（编号或名称）/ make an earlier version (number or label) current again."""
    settings = Settings.from_env()
    with _cli_errors(), connect(settings.database_url) as conn:
        new = configstore.rollback(conn, _operator(), settings.config_dir, path, version, comment)
    _applied(new, settings)


@contextmanager
def _cli_errors() -> Iterator[None]:
    try:
        yield
    except OneMapError as exc:
        raise click.ClickException(str(exc)) from exc


@main.group("audit")
def audit_group() -> None:
    """审计日志（全过程留痕）/ the audit trail."""


@audit_group.command("verify")
def audit_verify() -> None:
    """校验审计哈希链 / walk the audit hash chain; exit status 1 at the first changed, inserted or deleted row."""
    from onemap.core import audit
    from onemap.core.db import connect

    with connect(Settings.from_env().database_url) as conn:
        count, broken = audit.verify(conn)
    if broken is None:
        say(f"审计链完整 / the audit chain is intact: {count} rows")
        return
    LOGGER.error("audit chain broken at row %s: %s", broken.id, broken.en)
    say(f"审计链被破坏 / the audit chain is broken: {broken.zh} / {broken.en}")
    sys.exit(1)


@main.command("backup")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
def backup_command(directory: Path) -> None:
    """备份数据库与配置 / back up the database (pg_dump), config/ and the styles and map sources, with a manifest."""
    from onemap.backup import BackupError, backup

    settings = Settings.from_env()
    try:
        manifest = backup(settings.database_url, settings.config_dir, ROOT, directory)
    except BackupError as exc:
        raise click.ClickException(str(exc)) from exc
    rows = sum(t["rows"] for t in manifest["tables"].values())
    LOGGER.info("backup written to %s: %d tables, %d rows", directory, len(manifest["tables"]), rows)
    say(f"已备份 / backed up: {len(manifest['tables'])} tables, {rows} rows, "
        f"{len(manifest['files'])} files -> {directory}")


@main.command("restore")
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="覆盖非空数据库 / replace the contents of a non-empty database")
@click.option("--config", "with_config", is_flag=True,
              help="同时恢复配置到 config 目录 / also restore the configuration into the config directory")
def restore_command(directory: Path, force: bool, with_config: bool) -> None:
    """恢复备份到空数据库 / restore a backup into an empty database and check it against the manifest."""
    from onemap.backup import BackupError, restore

    settings = Settings.from_env()
    try:
        differences = restore(directory, settings.database_url, force,
                              settings.config_dir if with_config else None)
    except BackupError as exc:
        raise click.ClickException(str(exc)) from exc
    if differences:
        LOGGER.error("restore differs from the manifest: %s", differences)
        say("恢复结果与清单不符 / the restored database differs from the manifest:\n  " + "\n  ".join(differences))
        sys.exit(1)
    say(f"已恢复并核对 / restored and checked against the manifest: {directory}")


for _command in Components.load(Settings.from_env().config_dir).commands:
    main.add_command(load_object(_command))


if __name__ == "__main__":
    main()
