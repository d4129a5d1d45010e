"""备份 through the admin API: an administrator takes a backup without a
console; its manifest counts what the database holds; other roles may not."""

from __future__ import annotations

import requests

from tests.conftest import auth


def test_an_administrator_backs_up_through_the_api(base_url, tokens, db):
    url = f"{base_url}/admin/backups"
    assert requests.post(url, timeout=60).status_code == 401
    for role in ("staff", "egov"):
        assert requests.post(url, headers=auth(tokens[role]), timeout=60).status_code == 403
        assert requests.get(url, headers=auth(tokens[role]), timeout=60).status_code == 403
    r = requests.post(url, headers=auth(tokens["admin"]), timeout=600)
    assert r.status_code == 201, r.text
    made = r.json()
    xzq = db.execute("SELECT count(*) FROM base.xzq").fetchone()[0]
    assert made["rowsByTable"]["base.xzq"] == xzq > 0
    assert made["files"] > 0
    listed = requests.get(url, headers=auth(tokens["admin"]), timeout=60).json()["backups"]
    assert made["name"] in [b["name"] for b in listed]
    audited = db.execute("SELECT actor, status FROM ops.audit WHERE action = 'POST' AND target = '/admin/backups' "
                         "ORDER BY id DESC LIMIT 1").fetchone()
    assert audited == ("pytest-admin", 201)
