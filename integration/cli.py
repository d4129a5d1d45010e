"""`onemap outbox list|show|replay|deliver|sync|uploads`: the outbox (发件箱)
and the uploads to the province at the console."""

from __future__ import annotations

import getpass
import json

import click
import requests

from integration import outbox as box
from integration import province, upload
from integration.config import IntegrationConfig
from integration.transports import TRANSPORTS
from onemap.core import audit, db
from onemap.core.auth import Principal
from onemap.core.settings import Settings


@click.group("outbox")
def outbox() -> None:
    """发件箱 / the outbox of messages to partners."""


@outbox.command("list")
@click.option("--state", type=click.Choice(box.STATES), default=None)
@click.option("--partner", default=None)
@click.option("--limit", type=click.IntRange(1, 10000), default=50, show_default=True)
def list_messages(state: str | None, partner: str | None, limit: int) -> None:
    """列出消息 / list messages, newest first."""
    with db.connect(Settings.from_env().database_url, autocommit=True) as conn:
        rows, total = box.messages(conn, state, partner, limit)
    click.echo(f"{total} 条 / messages")
    for row in rows:
        click.echo(f"{row['id']:>6} {row['state']:<7} {row['partner']:<9} {row['kind']:<11} "
                   f"tries {row['attempts']:<3} {row['idempotency_key']}  {row['last_error'] or ''}")


@outbox.command("show")
@click.argument("message_id", type=int)
def show(message_id: int) -> None:
    """消息及其投递记录 / a message and its delivery log."""
    with db.connect(Settings.from_env().database_url, autocommit=True) as conn:
        found = box.message(conn, message_id)
    if found is None:
        raise click.UsageError(f"发件箱中没有消息 {message_id} / no outbox message {message_id}")
    click.echo(json.dumps(found, ensure_ascii=False, indent=2, default=str))


@outbox.command("replay")
@click.argument("message_id", type=int)
def replay(message_id: int) -> None:
    """重发死信 / put a dead message back in the queue (audited)."""
    with db.connect(Settings.from_env().database_url) as conn:
        before = box.replay(conn, message_id)
        if before is None:
            raise click.UsageError(f"发件箱中没有消息 {message_id} / no outbox message {message_id}")
        if before != "dead":
            raise click.UsageError(f"消息状态为 {before}，只有死信可以重发 / the message is {before}: "
                                   f"only a dead message can be replayed")
        audit.record(conn, Principal(f"cli:{getpass.getuser()}", "cli"), "REPLAY", f"outbox:{message_id}", 200)
    click.echo(f"消息 {message_id} 已重新排队 / message {message_id} is pending again")


@outbox.command("deliver")
def deliver() -> None:
    """立即投递到期消息 / deliver the due messages now, from this console."""
    settings = Settings.from_env()
    counts = box.deliver(settings.database_url, IntegrationConfig.of(settings), settings,
                         requests.Session(), TRANSPORTS)
    click.echo(f"已发送 / sent {counts['sent']}, 待重试 / to retry {counts['pending']}, 死信 / dead {counts['dead']}")


@outbox.command("sync")
def sync() -> None:
    """排队推送变化的目录记录 / queue the CSW-T pushes of changed catalogue records (as the worker does)."""
    settings = Settings.from_env()
    with db.connect(settings.database_url, autocommit=True) as conn:
        counts = province.sync(conn, IntegrationConfig.of(settings))
    click.echo(f"新增 / insert {counts['csw-insert']}, 更新 / update {counts['csw-update']}, "
               f"删除 / delete {counts['csw-delete']}")


@outbox.command("uploads")
@click.option("--state", type=click.Choice(upload.STATES), default=None)
@click.option("--limit", type=click.IntRange(1, 10000), default=50, show_default=True)
def list_uploads(state: str | None, limit: int) -> None:
    """成果上报 / the uploads to the province, newest first, with their unit."""
    with db.connect(Settings.from_env().database_url, autocommit=True) as conn:
        rows, total = upload.uploads(conn, state, limit)
    click.echo(f"{total} 次上报 / uploads")
    for row in rows:
        click.echo(f"{row['id']:>6} {row['state']:<8} {row['unit_code']} {row['unit_name'] or '':<8} "
                   f"{row['plan_version']} ({row['edition']})  {row['reason'] or ''}")
