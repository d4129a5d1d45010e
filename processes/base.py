"""What every One Map process plugin shares: the caller, the database,
job progress, typed input reading with bilingual errors."""

from __future__ import annotations

import base64
from typing import Any

from psycopg import sql
from pygeoapi.process.base import BaseProcessor

from onemap.core.auth import CURRENT_PRINCIPAL, Principal
from onemap.core.db import connect
from onemap.core.errors import invalid
from onemap.core.settings import Settings

JOBS_TABLE = sql.Identifier("jobs", "jobs")


class OneMapProcessor(BaseProcessor):
    """A pygeoapi processor that knows its job and its caller."""

    def __init__(self, processor_def: dict, process_metadata: dict) -> None:
        super().__init__(processor_def, process_metadata)
        self.supports_outputs = True
        self.job_id: str | None = None
        # Taken now, in the request's thread: an async job runs in another.
        self.principal: Principal = CURRENT_PRINCIPAL.get()

    def set_job_id(self, job_id: str) -> None:
        self.job_id = job_id
        self.principal = CURRENT_PRINCIPAL.get()

    @property
    def database_url(self) -> str:
        return Settings.from_env().database_url

    def progress(self, percent: int, message: str) -> None:
        """Job progress for GET /jobs/{id} (pygeoapi's manager sets only
        the start and the end)."""
        if not self.job_id:
            return
        with connect(self.database_url, autocommit=True) as conn:
            conn.execute(sql.SQL("UPDATE {} SET progress = %s, message = %s WHERE identifier = %s").format(
                JOBS_TABLE), (max(5, min(percent, 94)), message[:500], self.job_id))




def text_input(data: dict, name: str, required: bool = False, default: str | None = None) -> str | None:
    value = data.get(name, default)
    if isinstance(value, dict) and "value" in value:  # qualified value
        value = value["value"]
    if value in (None, ""):
        if required:
            raise invalid(name, f"缺少输入 {name}", f"Input '{name}' is required")
        return default
    if not isinstance(value, str | int | float):
        raise invalid(name, f"输入 {name} 应为文本", f"Input '{name}' must be a string")
    return str(value)


def binary_output(content: bytes, media_type: str) -> dict[str, str]:
    """An OGC API Processes qualified value for a binary output."""
    return {"value": base64.b64encode(content).decode("ascii"), "encoding": "base64", "mediaType": media_type}


def wanted(outputs: dict | None, name: str) -> bool:
    """Whether the client asked for this output (all when it names none)."""
    return not outputs or name in outputs


def i18n(zh: str, en: str) -> dict[str, str]:
    return {"zh": zh, "en": en}


def metadata(id_: str, title: tuple[str, str], description: tuple[str, str], inputs: dict[str, Any],
             outputs: dict[str, Any], keywords: list[str], example: dict[str, Any]) -> dict[str, Any]:
    return {"version": "1.0.0", "id": id_, "title": i18n(*title), "description": i18n(*description),
            "jobControlOptions": ["sync-execute", "async-execute"], "keywords": keywords,
            "links": [], "inputs": inputs, "outputs": outputs, "example": example}


def describe(title: tuple[str, str], description: tuple[str, str], schema: dict[str, Any],
       min_occurs: int = 1) -> dict[str, Any]:
    return {"title": i18n(*title), "description": i18n(*description), "schema": schema,
            "minOccurs": min_occurs, "maxOccurs": 1}


BINARY_PACKAGE_SCHEMA = {"oneOf": [
    {"type": "string", "contentEncoding": "base64",
     "contentMediaType": "application/geopackage+sqlite3"},
    {"type": "string", "contentEncoding": "base64", "contentMediaType": "application/zip"},
]}
