"""Where things run: paths, ports and the database, from the environment.

How the service behaves (roles, limits, layers) is in the YAML files of
`config/`; this module only says where those and the running parts are.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]


def config_dir(env: Mapping[str, str] | None = None) -> Path:
    """The configuration a planner or operator may change (config/): from
    ONEMAP_CONFIG when set, so one installation can serve another city."""
    return Path((os.environ if env is None else env).get("ONEMAP_CONFIG", ROOT / "config")).resolve()


@dataclass(frozen=True)
class Settings:
    """Paths and ports of one instance of the stack (make up, or a test run)."""

    var_dir: Path
    host: str
    port: int
    pg_port: int
    database_url_env: str | None
    config_dir: Path = field(default_factory=config_dir)
    # load balancers in front that set X-Forwarded-For (scale-out): the
    # client address (rate limit, audit) is then the one they saw
    proxies: int = 0

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if env is None else env)
        return cls(
            var_dir=Path(env.get("ONEMAP_VAR", ROOT / "var")).resolve(),
            host=env.get("ONEMAP_HOST", "127.0.0.1"),
            port=int(env.get("ONEMAP_PORT", "8000")),
            pg_port=int(env.get("ONEMAP_PG_PORT", "55432")),
            database_url_env=env.get("DATABASE_URL") or None,
            config_dir=config_dir(env),
            proxies=int(env.get("ONEMAP_PROXIES", "0")),
        )

    @property
    def base_url(self) -> str:
        return os.environ.get("ONEMAP_PUBLIC_URL", f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def run_dir(self) -> Path:
        return self.var_dir / "run"

    @property
    def log_dir(self) -> Path:
        return self.var_dir / "log"

    @property
    def generated_dir(self) -> Path:
        """Configuration files generated from config/ (pygeoapi, MapProxy...)."""
        return self.var_dir / "generated"

    @property
    def evaluation_dir(self) -> Path:
        """Evaluation rasters: the factor rasters (factors/) and the runs (runs/)."""
        return self.var_dir / "evaluation"

    @property
    def mapserver_files(self) -> MapServerFiles:
        """The generated MapServer mapfile and configuration: MapProxy and
        the reports render maps with them."""
        return MapServerFiles(self.generated_dir / "mapserver")

    @property
    def local_db_url_file(self) -> Path:
        return self.var_dir / "database_url"

    @property
    def uses_local_db(self) -> bool:
        return self.database_url_env is None

    @property
    def database_url(self) -> str:
        """DATABASE_URL, or the URL of the private cluster under var/."""
        if self.database_url_env:
            return self.database_url_env
        try:
            return self.local_db_url_file.read_text().strip()
        except FileNotFoundError:
            raise RuntimeError(
                "本地数据库尚未创建，请先运行 make up / the local database does not "
                "exist yet: run `make up` (or set DATABASE_URL)"
            ) from None

    @cached_property
    def gateway(self) -> dict[str, Any]:
        return load_yaml(self.config_dir / "gateway.yaml")


@dataclass(frozen=True)
class MapServerFiles:
    """The generated MapServer files of an instance."""

    directory: Path

    @property
    def mapfile(self) -> Path:
        return self.directory / "onemap.map"

    @property
    def config_file(self) -> Path:
        return self.directory / "mapserver.conf"

    @property
    def fontset(self) -> Path:
        return self.directory / "fonts.txt"


# libyaml's safe loader and dumper: the same documents, several times faster
# (the generated pygeoapi configuration and OpenAPI document are large, and
# every plan-qc run reads the specifications)
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def load_yaml(path: Path) -> Any:
    with open(path, encoding="utf-8") as f:
        return yaml.load(f, Loader=_LOADER)  # noqa: S506 (a safe loader)


def dump_yaml(data: Any, sort_keys: bool = False) -> str:
    return yaml.dump(data, Dumper=_DUMPER, allow_unicode=True, sort_keys=sort_keys)
