"""pycsw configurations, generated like the pygeoapi ones.

The stack runs two on the same repository (schema `catalogue`), selected by
the gateway by the caller's role, as for pygeoapi:
- `public` (anonymous and egov clients): a repository filter keeps only
  records classified `unclassified` (public layers and the directory
  classes), for CSW, OAI-PMH, OpenSearch and OGC API Records alike; no
  transactions;
- `internal` (staff and admin tokens): every record; CSW Transaction and
  Harvest enabled for loopback, which only the gateway reaches, and it
  lets admin tokens through only.
"""

from __future__ import annotations

import configparser
import io
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from catalogue.records import PUBLIC_CLASSIFICATION, CatalogueConfig
from onemap.core.settings import Settings

AUDIENCE_FILTERS = {"public": f"securityconstraints = '{PUBLIC_CLASSIFICATION}'", "internal": None}
REPOSITORY_SCHEMA = "catalogue"


@dataclass(frozen=True)
class PycswInstance:
    """One pycsw configuration: where its repository is and how it behaves."""

    name: str  # the path prefix /<name>/csw of the pycsw process
    url: str  # the URL clients reach it by (written into capabilities and links)
    schema: str
    repo_filter: str | None
    transactions: bool


def repository_url(database_url: str, schema: str) -> str:
    """The SQLAlchemy URL of a repository: the database with `schema` first
    on the search_path (pycsw's own SQL names its table unqualified)."""
    separator = "&" if "?" in database_url else "?"
    return f"{database_url}{separator}options={quote(f'-csearch_path={schema},public')}"


def pycsw_config(instance: PycswInstance, database_url: str, config: CatalogueConfig) -> str:
    """The pycsw 2.6 configuration file (INI) of one instance."""
    contact = config.contact
    sections: dict[str, dict[str, str]] = {
        "server": {
            "home": ".",  # pycsw sets it itself
            "url": instance.url,
            "mimetype": "application/xml; charset=UTF-8",
            "encoding": "UTF-8",
            "language": "zh-CN",
            "maxrecords": "100",
            "pretty_print": "false",
            "domainquerytype": "list",
            "profiles": "apiso",
        },
        "manager": {
            "transactions": "true" if instance.transactions else "false",
            "allowed_ips": "127.0.0.1",
            "csw_harvest_pagesize": str(config.harvest_pagesize),
        },
        "metadata:main": {
            "identification_title": f"{config.title.zh} / {config.title.en}",
            "identification_abstract": f"{config.abstract.zh} / {config.abstract.en}",
            "identification_keywords": ",".join((*config.keywords_zh, *config.keywords_en)),
            "identification_keywords_type": "theme",
            "identification_fees": "无 / none",
            "identification_accessconstraints": "公开目录；内部图层需访问令牌 / public directory; internal layers need a token",
            "provider_name": f"{contact.organization.zh} / {contact.organization.en}",
            "provider_url": contact.url,
            "contact_name": f"{contact.organization.zh} / {contact.organization.en}",
            "contact_position": "数据管理 / Data management",
            "contact_address": "",
            "contact_city": f"{contact.city.zh} / {contact.city.en}",
            "contact_stateorprovince": "湖南省 / Hunan",
            "contact_postalcode": "413000",
            "contact_country": f"{contact.country.zh} / {contact.country.en}",
            "contact_phone": "",
            "contact_fax": "",
            "contact_email": contact.email,
            "contact_url": contact.url,
            "contact_hours": "",
            "contact_instructions": "",
            "contact_role": "pointOfContact",
        },
        "repository": {
            "database": repository_url(database_url, instance.schema),
            "table": "records",
            **({"filter": instance.repo_filter} if instance.repo_filter else {}),
        },
        "metadata:inspire": {"enabled": "false"},
        "onemap": {"schema": instance.schema},
    }
    parser = configparser.ConfigParser(interpolation=None)
    # pycsw reads it with interpolation: a literal % is written %%
    parser.read_dict({s: {k: v.replace("%", "%%") for k, v in opts.items()} for s, opts in sections.items()})
    out = io.StringIO()
    parser.write(out)
    return out.getvalue()


def config_dir(settings: Settings) -> Path:
    return settings.generated_dir / "pycsw"


def stack_instances(settings: Settings) -> list[PycswInstance]:
    """The stack's two configurations, both advertised at the gateway's /csw."""
    return [PycswInstance(name=audience, url=f"{settings.base_url}/csw", schema=REPOSITORY_SCHEMA,
                          repo_filter=repo_filter, transactions=repo_filter is None)
            for audience, repo_filter in AUDIENCE_FILTERS.items()]


def write_config(directory: Path, instance: PycswInstance, database_url: str, config: CatalogueConfig) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{instance.name}.cfg"
    path.write_text(pycsw_config(instance, database_url, config), encoding="utf-8")
    path.chmod(0o600)  # holds the database password
    return path
