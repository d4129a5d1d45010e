"""What every One Map process plugin shares: the caller and job progress
from the job manager's context (onemap.ogc.jobs), typed input reading with
bilingual errors, output negotiation, the PDF engine and the metadata
helpers.

A process implements `run(data)`, returning every output it declares as an
`Output`: a value computed only when the client asks for that output. The
base renders the outputs the execute request names (`outputs`; none named:
the process's `default_outputs`):

* one output by value, named by the client: raw, as its media type (a PDF
  as application/pdf);
* otherwise a JSON document: JSON values inline, bytes as base64 qualified
  values, outputs by reference as {"href", "type"}.
"""

from __future__ import annotations

import base64
import datetime as dt
import os
import shutil
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar
from urllib.parse import urlencode

from pygeoapi.process.base import BaseProcessor

from onemap.core.auth import ANONYMOUS, Principal
from onemap.core.errors import invalid
from onemap.core.settings import Settings

Progress = Callable[[int, str], None]
TRANSMISSION_MODES = ("value", "reference")


def quiet(percent: int, message: str) -> None:
    """Progress to no one (a synchronous run, a test)."""


@dataclass(frozen=True)
class Output:
    """An output's value, computed when asked for, and where the output can
    be downloaded (for transmissionMode `reference`)."""

    value: Callable[[], Any]
    href: str | None = None


class OneMapProcessor(BaseProcessor):
    """A pygeoapi processor that knows its job and its caller and negotiates
    its outputs."""

    # Outputs given when the request names none: name -> transmissionMode
    # (empty: every declared output, by value).
    default_outputs: ClassVar[Mapping[str, str]] = {}
    # Outputs that can be given by reference (Output.href set).
    references: ClassVar[frozenset[str]] = frozenset()
    # Outputs given with every request: ids of what the run recorded, which
    # the client refers to later.
    identifiers: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, processor_def: dict, process_metadata: dict) -> None:
        super().__init__(processor_def, process_metadata)
        self.supports_outputs = True
        self.job_id: str | None = None
        self.context: dict[str, Any] = {}  # set by the job manager

    def set_job_id(self, job_id: str) -> None:
        self.job_id = job_id

    @property
    def principal(self) -> Principal:
        return self.context.get("principal") or ANONYMOUS

    def progress(self, percent: int, message: str) -> None:
        (self.context.get("progress") or quiet)(percent, message)

    @property
    def database_url(self) -> str:
        return Settings.from_env().database_url

    def execute(self, data: dict, outputs: dict | list | None = None) -> tuple[str, Any]:
        # checked before the run: a bad request records nothing
        requested = requested_outputs(self.metadata["outputs"], outputs, self.default_outputs, self.references)
        values = self.run(data)
        if outputs and len(requested) == 1 and not self.identifiers:
            ((name, mode),) = requested.items()
            if mode == "value":
                return media_type(self.metadata["outputs"][name]), values[name].value()
        return "application/json", document(self.metadata["outputs"], values,
                                            {**dict.fromkeys(self.identifiers, "value"), **requested})

    def run(self, data: dict) -> Mapping[str, Output]:
        raise NotImplementedError


def requested_outputs(declared: Mapping[str, Any], outputs: dict | list | None, default: Mapping[str, str],
                      references: frozenset[str]) -> dict[str, str]:
    """The outputs to give, name -> transmissionMode."""
    if not outputs:
        return dict(default) or dict.fromkeys(declared, "value")
    if isinstance(outputs, list):
        outputs = dict.fromkeys(outputs)
    if not isinstance(outputs, dict):
        raise invalid("outputs", "outputs 应为对象", "outputs must be an object")
    unknown = sorted(set(outputs) - set(declared))
    if unknown:
        raise invalid("outputs", f"未知的输出：{', '.join(unknown)}", f"Unknown outputs: {', '.join(unknown)}")
    modes = {}
    for name, spec in outputs.items():
        mode = (spec or {}).get("transmissionMode", "value") if isinstance(spec, dict) else "value"
        if mode not in TRANSMISSION_MODES or (mode == "reference" and name not in references):
            raise invalid("outputs", f"输出 {name} 不支持传输方式 {mode}",
                          f"Output '{name}' cannot be given with transmissionMode '{mode}'")
        modes[name] = mode
    return modes


def media_type(description: Mapping[str, Any]) -> str:
    return description.get("schema", {}).get("contentMediaType", "application/json")


def document(declared: Mapping[str, Any], values: Mapping[str, Output], modes: Mapping[str, str]) -> dict[str, Any]:
    """The JSON document of several outputs."""
    result: dict[str, Any] = {}
    for name, mode in modes.items():
        kind = media_type(declared[name])
        if mode == "reference":
            result[name] = {"href": values[name].href, "type": kind}
            continue
        value = values[name].value()
        # bytes (PDF, GeoPackage, HTML) as base64: pygeoapi escapes markup in JSON string values
        result[name] = binary_output(value, kind) if isinstance(value, bytes) else value
    return result


def binary_output(content: bytes, media: str) -> dict[str, str]:
    """An OGC API Processes qualified value for a binary output."""
    return {"value": base64.b64encode(content).decode("ascii"), "encoding": "base64", "mediaType": media}


# --- inputs -----------------------------------------------------------------

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


def integer_input(data: dict, name: str, required: bool = False) -> int | None:
    text = text_input(data, name, required=required)
    if text is None:
        return None
    try:
        return int(text)
    except ValueError:
        raise invalid(name, f"{name} 应为整数", f"{name} must be an integer") from None


def datetime_input(data: dict, name: str, required: bool = True) -> dt.datetime | None:
    text = text_input(data, name, required=required)
    if text is None:
        return None
    try:
        value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise invalid(name, f"{name} 应为 RFC 3339 时间，如 2025-01-01T00:00:00+08:00",
                      f"{name} must be an RFC 3339 time, e.g. 2025-01-01T00:00:00+08:00") from None
    if value.tzinfo is None:
        raise invalid(name, f"{name} 必须带时区", f"{name} must carry a time zone")
    return value


# --- reports ----------------------------------------------------------------

CJK_FONT = "Noto Sans CJK SC"


def pdf_from_html(page: str) -> bytes:
    """A report page as PDF by WeasyPrint, which embeds (a subset of) the
    fonts it uses; the page's text falls back to the CJK font."""
    import weasyprint  # imported on first use: it loads fonts and Pango

    base = weasyprint.CSS(string=f'html {{ font-family: "{CJK_FONT}", sans-serif; }}')
    return weasyprint.HTML(string=page).write_pdf(stylesheets=[base])


def wms_get_map(params: Mapping[str, Any]) -> tuple[bytes | None, str | None]:
    """A report's map image from the map service: a WMS 1.3.0 GetMap (`params`:
    LAYERS, CRS, BBOX, WIDTH, HEIGHT, vendor parameters such as FILTER)
    answered by MapServer with the map service's own mapfile and styles (what
    MapProxy renders its tiles with), for exactly the report's extent; the
    PNG, or None and why not."""
    files = Settings.from_env().mapserver_files
    query = urlencode({"map": str(files.mapfile), "SERVICE": "WMS", "VERSION": "1.3.0", "REQUEST": "GetMap",
                       "STYLES": "", "FORMAT": "image/png", "TRANSPARENT": "FALSE", **params})
    binary = shutil.which("mapserv") or "/usr/bin/mapserv"
    env = {"PATH": os.environ.get("PATH", ""), "REQUEST_METHOD": "GET", "QUERY_STRING": query,
           "MAPSERVER_CONFIG_FILE": str(files.config_file)}
    try:
        run = subprocess.run([binary], env=env, capture_output=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return None, f"{exc.__class__.__name__}: {exc}"[:200]
    header, _, body = run.stdout.partition(b"\r\n\r\n")
    if b"image/png" not in header:
        return None, f"WMS GetMap: {body.decode(errors='replace')[:200]}"
    return body, None


# --- metadata ---------------------------------------------------------------

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
