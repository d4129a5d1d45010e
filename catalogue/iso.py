"""ISO 19139 (gmd) XML of a metadata record.

Texts are Chinese in gco:CharacterString with the English as a
PT_FreeText translation (locale #en), the ISO 19139 way of a multilingual
record; the English title is also the alternate title, so Dublin Core
output (dct:alternative) carries it too.
"""

from __future__ import annotations

from datetime import datetime

from lxml import etree

from catalogue.records import Contact, MetadataRecord
from onemap.core.registry import Text

NS = {
    "gmd": "http://www.isotc211.org/2005/gmd",
    "gco": "http://www.isotc211.org/2005/gco",
    "gml": "http://www.opengis.net/gml/3.2",
    "xlink": "http://www.w3.org/1999/xlink",
    "xsi": "http://www.w3.org/2001/XMLSchema-instance",
}
CODELISTS = "http://standards.iso.org/iso/19139/resources/gmxCodelists.xml"
EN_LOCALE = "en"


def _q(name: str) -> str:
    prefix, local = name.split(":")
    return f"{{{NS[prefix]}}}{local}"


def _el(parent: etree._Element, path: str) -> etree._Element:
    """Append the chain of elements `a/b/c` under parent; return the last."""
    for name in path.split("/"):
        parent = etree.SubElement(parent, _q(name))
    return parent


def _string(parent: etree._Element, path: str, value: str) -> None:
    _el(parent, path + "/gco:CharacterString").text = value


def _text(parent: etree._Element, path: str, text: Text) -> None:
    """A Chinese text with its English translation."""
    holder = _el(parent, path)
    holder.set(_q("xsi:type"), "gmd:PT_FreeText_PropertyType")
    _el(holder, "gco:CharacterString").text = text.zh
    localised = _el(holder, "gmd:PT_FreeText/gmd:textGroup/gmd:LocalisedCharacterString")
    localised.set("locale", f"#{EN_LOCALE}")
    localised.text = text.en


def _code(parent: etree._Element, path: str, codelist: str, value: str) -> None:
    code = _el(parent, path + f"/gmd:{codelist}")
    code.set("codeList", f"{CODELISTS}#{codelist}")
    code.set("codeListValue", value)
    code.text = value


def _contact(parent: etree._Element, path: str, contact: Contact, role: str) -> None:
    party = _el(parent, path + "/gmd:CI_ResponsibleParty")
    _text(party, "gmd:organisationName", contact.organization)
    info = _el(party, "gmd:contactInfo/gmd:CI_Contact")
    address = _el(info, "gmd:address/gmd:CI_Address")
    _text(address, "gmd:city", contact.city)
    _text(address, "gmd:country", contact.country)
    _string(address, "gmd:electronicMailAddress", contact.email)
    _el(info, "gmd:onlineResource/gmd:CI_OnlineResource/gmd:linkage/gmd:URL").text = contact.url
    _code(party, "gmd:role", "CI_RoleCode", role)


def _datetime(value: datetime) -> str:
    return value.isoformat(timespec="seconds")


def to_iso19139(record: MetadataRecord) -> bytes:
    """The gmd:MD_Metadata document of a record."""
    root = etree.Element(_q("gmd:MD_Metadata"), nsmap=NS)
    _string(root, "gmd:fileIdentifier", record.identifier)
    _code(root, "gmd:language", "LanguageCode", "chi")
    _code(root, "gmd:characterSet", "MD_CharacterSetCode", "utf8")
    if record.parent:
        _string(root, "gmd:parentIdentifier", record.parent)
    _code(root, "gmd:hierarchyLevel", "MD_ScopeCode", record.scope)
    _text(root, "gmd:hierarchyLevelName", record.scope_name)
    _contact(root, "gmd:contact", record.contact, "pointOfContact")
    _el(root, "gmd:dateStamp/gco:DateTime").text = _datetime(record.datestamp)
    _string(root, "gmd:metadataStandardName", "ISO 19115:2003/19139")
    _string(root, "gmd:metadataStandardVersion", "1.0")
    locale = _el(root, "gmd:locale/gmd:PT_Locale")
    locale.set("id", EN_LOCALE)
    _code(locale, "gmd:languageCode", "LanguageCode", "eng")
    _code(locale, "gmd:characterEncoding", "MD_CharacterSetCode", "utf8")
    if record.crs:
        authority, code = record.crs.split(":")
        rs = _el(root, "gmd:referenceSystemInfo/gmd:MD_ReferenceSystem/gmd:referenceSystemIdentifier/gmd:RS_Identifier")
        _string(rs, "gmd:code", code)
        _string(rs, "gmd:codeSpace", authority)

    ident = _el(root, "gmd:identificationInfo/gmd:MD_DataIdentification")
    citation = _el(ident, "gmd:citation/gmd:CI_Citation")
    _text(citation, "gmd:title", record.title)
    _string(citation, "gmd:alternateTitle", record.title.en)
    cidate = _el(citation, "gmd:date/gmd:CI_Date")
    _el(cidate, "gmd:date/gco:DateTime").text = _datetime(record.datestamp)
    _code(cidate, "gmd:dateType", "CI_DateTypeCode", "revision")
    _text(ident, "gmd:abstract", record.abstract)
    if record.purpose:
        _text(ident, "gmd:purpose", record.purpose)
    if record.status:
        _code(ident, "gmd:status", "MD_ProgressCode", record.status)
    _contact(ident, "gmd:pointOfContact", record.contact, "custodian")
    maintenance = _el(ident, "gmd:resourceMaintenance/gmd:MD_MaintenanceInformation")
    _code(maintenance, "gmd:maintenanceAndUpdateFrequency", "MD_MaintenanceFrequencyCode", record.frequency)
    if record.maintenance_note:
        _text(maintenance, "gmd:maintenanceNote", record.maintenance_note)
    for words in (record.keywords_zh, record.keywords_en):
        keywords = _el(ident, "gmd:descriptiveKeywords/gmd:MD_Keywords")
        for word in words:
            _string(keywords, "gmd:keyword", word)
        _code(keywords, "gmd:type", "MD_KeywordTypeCode", "theme")
    legal = _el(ident, "gmd:resourceConstraints/gmd:MD_LegalConstraints")
    _code(legal, "gmd:accessConstraints", "MD_RestrictionCode", "otherRestrictions")
    _text(legal, "gmd:otherConstraints", record.access)
    _code(ident, "gmd:resourceConstraints/gmd:MD_SecurityConstraints/gmd:classification",
          "MD_ClassificationCode", record.classification)
    if record.scope == "dataset":
        _code(ident, "gmd:spatialRepresentationType", "MD_SpatialRepresentationTypeCode", "vector")
    _code(ident, "gmd:language", "LanguageCode", "chi")
    _code(ident, "gmd:characterSet", "MD_CharacterSetCode", "utf8")
    if record.topic:
        _el(ident, "gmd:topicCategory/gmd:MD_TopicCategoryCode").text = record.topic
    if record.bbox or record.time_begin:
        extent = _el(ident, "gmd:extent/gmd:EX_Extent")
        if record.bbox:
            box = _el(extent, "gmd:geographicElement/gmd:EX_GeographicBoundingBox")
            for name, value in zip(("westBoundLongitude", "eastBoundLongitude", "southBoundLatitude",
                                    "northBoundLatitude"),
                                   (record.bbox[0], record.bbox[2], record.bbox[1], record.bbox[3]), strict=True):
                _el(box, f"gmd:{name}/gco:Decimal").text = repr(float(value))
        if record.time_begin:
            period = _el(extent, "gmd:temporalElement/gmd:EX_TemporalExtent/gmd:extent/gml:TimePeriod")
            period.set(_q("gml:id"), "validity")
            _el(period, "gml:beginPosition").text = _datetime(record.time_begin)
            end = _el(period, "gml:endPosition")
            if record.time_end:
                end.text = _datetime(record.time_end)
            else:
                end.set("indeterminatePosition", "now")  # the plan is still in force

    if record.online:
        distribution = _el(root, "gmd:distributionInfo/gmd:MD_Distribution")
        fmt = _el(distribution, "gmd:distributionFormat/gmd:MD_Format")
        _string(fmt, "gmd:name", "GeoJSON, Mapbox Vector Tile, PNG")
        _string(fmt, "gmd:version", "-")
        options = _el(distribution, "gmd:transferOptions/gmd:MD_DigitalTransferOptions")
        for resource in record.online:
            online = _el(options, "gmd:onLine/gmd:CI_OnlineResource")
            _el(online, "gmd:linkage/gmd:URL").text = resource.url
            _string(online, "gmd:protocol", resource.protocol)
            _string(online, "gmd:name", resource.name)
            _text(online, "gmd:description", resource.description)
            _code(online, "gmd:function", "CI_OnLineFunctionCode", resource.function)

    if record.lineage:
        quality = _el(root, "gmd:dataQualityInfo/gmd:DQ_DataQuality")
        _code(quality, "gmd:scope/gmd:DQ_Scope/gmd:level", "MD_ScopeCode", record.scope)
        _text(quality, "gmd:lineage/gmd:LI_Lineage/gmd:statement", record.lineage)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")
