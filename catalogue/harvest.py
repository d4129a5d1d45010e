"""收割 Harvest of a partner's CSW (the provincial platform's control-line
and directory records) into our catalogue, read-only.

The partner's records are those under its identifier prefix: fetched as
ISO 19139 by CSW GetRecords (OWSLib, paged), and made the repository's
records under that prefix in one transaction (catalogue.service
.load_records): new ones inserted, changed ones replaced, those the partner
removed deleted. Their identifiers mark them as theirs; our own `publish`
and the push to the province touch our prefix only, and our own records
the partner holds (pushed by us) are never taken back."""

from __future__ import annotations

from owslib.catalogue.csw2 import CatalogueServiceWeb
from owslib.fes import PropertyIsLike

from catalogue.config import config_dir
from catalogue.directory import CatalogueError
from catalogue.records import CatalogueConfig
from catalogue.service import load_records
from onemap.core.settings import Settings

GMD = "http://www.isotc211.org/2005/gmd"


def fetch(source: str, prefix: str, page_size: int, timeout: float = 600) -> dict[str, bytes]:
    """Every record of `source` whose identifier starts with `prefix`, as ISO XML."""
    csw = CatalogueServiceWeb(source, timeout=timeout)
    like = PropertyIsLike("apiso:Identifier", prefix.replace("%", "\\%").replace("_", "\\_") + "%",
                          escapeChar="\\")
    records: dict[str, bytes] = {}
    start = 1
    while True:
        csw.getrecords2(constraints=[like], typenames="gmd:MD_Metadata", esn="full", outputschema=GMD,
                        startposition=start, maxrecords=page_size)
        records.update({identifier: record.xml for identifier, record in csw.records.items()
                        if identifier.startswith(prefix)})
        returned, matched = csw.results["returned"], csw.results["matches"]
        start = csw.results["nextrecord"]
        if not returned or not start or start > matched:
            return records


def harvest(settings: Settings, source: str, prefix: str) -> dict[str, int]:
    """Mirror the partner's records (under `prefix`) into our repository:
    counts inserted, updated, deleted."""
    config = CatalogueConfig.load(settings.gateway)
    ours = config.identifier_prefix
    if not prefix or prefix.startswith(ours) or ours.startswith(prefix):
        raise CatalogueError(f"收割前缀 {prefix!r} 与本市记录前缀 {ours!r} 重叠：会覆盖本市记录",
                             f"the harvest prefix {prefix!r} overlaps ours {ours!r}: it would replace our records")
    records = fetch(source, prefix, config.harvest_pagesize)
    return load_records(config_dir(settings) / "internal.cfg", prefix, records)
