"""Taking in a plan package: the file from the request (base64 value, href
or a local path), safely unpacked, its layers listed and inspected.

A package is one GeoPackage or a zip of shapefiles (or of one GeoPackage).
Everything that makes a package unreadable is a bilingual 4xx error here,
before anything reaches the database.
"""

from __future__ import annotations

import base64
import binascii
import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import pyogrio
import pyproj
import requests

from onemap.core.errors import OneMapError, invalid
from onemap.core.settings import config_dir, load_yaml

MB = 1024 * 1024
SQLITE_MAGIC = b"SQLite format 3\x00"
ZIP_MAGIC = b"PK\x03\x04"
EMPTY_ZIP_MAGIC = b"PK\x05\x06"
SHAPEFILE_PARTS = (".shp", ".shx", ".dbf")


def limits(path: Path | None = None) -> dict[str, float]:
    return load_yaml(path or config_dir() / "plan.yaml")["qc"]


def _too_large(size_mb: float, limit_mb: float) -> OneMapError:
    return invalid("package", f"数据包过大：{size_mb:.0f} MB，上限 {limit_mb:.0f} MB", f"The package is too large: {size_mb:.0f} MB, the limit is {limit_mb:.0f} MB", 413, "PayloadTooLarge")


def materialize(value: Any, workdir: Path, allow_paths: bool = False) -> Path:
    """The package input as a file in workdir.

    `value` is an OGC API Processes qualified value ({"value": base64,
    "encoding": "base64", "mediaType": ..., "filename": ...}), a reference
    ({"href": "http(s)://..."}), or, for the command line only
    (allow_paths), a local path."""
    limit = limits()["max_package_mb"] * MB
    workdir.mkdir(parents=True, exist_ok=True)
    if isinstance(value, str | Path) and allow_paths:
        source = Path(value)
        if not source.is_file():
            raise invalid("package", f"找不到数据包文件 {source}", f"No package file {source}", 404, "NotFound")
        if source.stat().st_size > limit:
            raise _too_large(source.stat().st_size / MB, limit / MB)
        target = workdir / source.name
        shutil.copyfile(source, target)
        return target
    if not isinstance(value, dict) or not ("value" in value or "href" in value):
        raise invalid("package", "缺少数据包：package 应为 base64 编码的值（value/encoding）或链接（href）", "No package: 'package' must be a base64 qualified value (value/encoding) or an href", 400, "MissingParameterValue")
    if "href" in value:
        return _download(str(value["href"]), workdir, limit)
    if value.get("encoding", "base64") != "base64":
        raise invalid("package", "数据包的 encoding 应为 base64", "The package encoding must be base64", 400, "InvalidParameterValue")
    text = value["value"]
    if not isinstance(text, str):
        raise invalid("package", "数据包的 value 应为 base64 字符串", "The package value must be a base64 string", 400, "InvalidParameterValue")
    if len(text) * 3 / 4 > limit:
        raise _too_large(len(text) * 3 / 4 / MB, limit / MB)
    try:
        content = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise invalid("package", "数据包不是有效的 base64 编码", "The package value is not valid base64", 400, "InvalidParameterValue") from None
    if not content:
        raise invalid("package", "数据包为空", "The package is empty", 400, "InvalidParameterValue")
    name = PurePosixPath(str(value.get("filename") or "package")).name or "package"
    target = workdir / name
    target.write_bytes(content)
    return target


def _download(href: str, workdir: Path, limit: float) -> Path:
    if not href.startswith(("http://", "https://")):
        raise invalid("package", "数据包链接（href）应为 http 或 https 地址", "The package href must be an http or https URL", 400, "InvalidParameterValue")
    target = workdir / (PurePosixPath(href.split("?", 1)[0]).name or "package")
    try:
        with requests.get(href, stream=True, timeout=limits()["download_timeout_s"]) as r:
            if r.status_code != 200:
                raise invalid("package", f"无法下载数据包：HTTP {r.status_code}", f"The package could not be downloaded: HTTP {r.status_code}", 400, "InvalidParameterValue")
            declared = int(r.headers.get("Content-Length") or 0)
            if declared > limit:
                raise _too_large(declared / MB, limit / MB)
            size = 0
            with open(target, "wb") as f:
                for chunk in r.iter_content(MB):
                    size += len(chunk)
                    if size > limit:
                        raise _too_large(size / MB, limit / MB)
                    f.write(chunk)
    except requests.RequestException as exc:
        raise invalid("package", f"无法下载数据包：{exc.__class__.__name__}", f"The package could not be downloaded: {exc}", 400, "InvalidParameterValue") from exc
    if size == 0:
        raise invalid("package", "数据包为空", "The package is empty", 400, "InvalidParameterValue")
    return target


@dataclass(frozen=True)
class Field:
    name: str
    ogr_type: str


@dataclass(frozen=True)
class SourceLayer:
    """A layer of the package as delivered."""

    name: str            # upper case: the layer name the specification uses
    path: Path           # the file to read it from
    layer: str           # the layer name inside that file
    fields: tuple[Field, ...]
    geometry_type: str | None
    epsg: int | None     # None: the coordinate system is not an EPSG one
    crs_text: str | None  # the coordinate system as delivered (None: none)
    features: int
    open_options: tuple[str, ...] = ()


@dataclass(frozen=True)
class Package:
    kind: str            # "gpkg" | "shapefile-zip"
    path: Path           # the file as received
    layers: tuple[SourceLayer, ...]

    def layer(self, name: str) -> SourceLayer | None:
        return next((la for la in self.layers if la.name == name.upper()), None)


def open_package(path: Path, workdir: Path) -> Package:
    """Recognise, unpack and inspect a package file."""
    with open(path, "rb") as f:
        head = f.read(100)
    if head.startswith(SQLITE_MAGIC):
        source = path
        if path.suffix.lower() != ".gpkg":  # GDAL knows a GeoPackage by its extension
            source = workdir / (path.name + ".gpkg")
            source.symlink_to(path.resolve())
        return Package("gpkg", path, _gpkg_layers(source))
    if head.startswith(ZIP_MAGIC) or head.startswith(EMPTY_ZIP_MAGIC):
        return _zip_package(path, workdir / "unzipped")
    raise invalid("package", "不是 GeoPackage 数据库，也不是 shapefile 的 zip 压缩包", "Not a GeoPackage, nor a zip of shapefiles", 415, "UnsupportedMediaType")


def _epsg(crs_text: str | None) -> int | None:
    if not crs_text:
        return None
    if crs_text.upper().startswith("EPSG:"):
        return int(crs_text.split(":", 1)[1])
    try:
        return pyproj.CRS.from_user_input(crs_text).to_epsg(min_confidence=70)
    except pyproj.exceptions.CRSError:
        return None


def _inspect(path: Path, layer: str, name: str, open_options: tuple[str, ...] = ()) -> SourceLayer:
    kwargs = {"encoding": open_options[0].split("=", 1)[1]} if open_options else {}
    try:
        info = pyogrio.read_info(path, layer=layer, force_feature_count=True, **kwargs)
    except pyogrio.errors.DataSourceError as exc:
        raise invalid(name, f"无法读取图层 {name}：{exc}", f"Layer {name} cannot be read: {exc}", 400, "InvalidParameterValue") from exc
    geometry = info.get("geometry_type")
    return SourceLayer(
        name=name.upper(), path=path, layer=layer,
        fields=tuple(Field(str(n), str(t)) for n, t in zip(info["fields"], info["ogr_types"], strict=True)),
        geometry_type=geometry if geometry and geometry != "None" else None,
        epsg=_epsg(info.get("crs")), crs_text=info.get("crs"), features=int(info["features"]),
        open_options=open_options)


def _gpkg_layers(path: Path) -> tuple[SourceLayer, ...]:
    try:
        names = [str(n) for n, _ in pyogrio.list_layers(path)]
    except (pyogrio.errors.DataSourceError, OSError) as exc:
        raise invalid("package", "文件不是有效的 GeoPackage 数据库", f"The file is not a valid GeoPackage: {exc}", 415, "UnsupportedMediaType") from exc
    if not names:
        raise invalid("package", "GeoPackage 中没有任何图层", "The GeoPackage holds no layer", 400, "InvalidParameterValue")
    return tuple(_inspect(path, n, n) for n in names)


def _zip_package(path: Path, target: Path) -> Package:
    lim = limits()
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile as exc:
        raise invalid("package", "zip 压缩包已损坏", f"The zip file is corrupt: {exc}", 400, "InvalidParameterValue") from exc
    with archive:
        members = [m for m in archive.infolist() if not m.is_dir()]
        if not members:
            raise invalid("package", "zip 压缩包是空的", "The zip file is empty", 400, "InvalidParameterValue")
        if len(members) > lim["max_zip_members"]:
            raise invalid("package", f"zip 压缩包文件过多：{len(members)} 个", f"The zip holds too many files: {len(members)}", 413, "PayloadTooLarge")
        total = sum(m.file_size for m in members)
        if total > lim["max_uncompressed_mb"] * MB:
            raise _zip_bomb(f"解压后共 {total / MB:.0f} MB，上限 {lim['max_uncompressed_mb']} MB",
                            f"it unpacks to {total / MB:.0f} MB, the limit is {lim['max_uncompressed_mb']} MB")
        for m in members:
            if m.file_size > 1 * MB and m.file_size > lim["max_compression_ratio"] * max(m.compress_size, 1):
                raise _zip_bomb(f"{m.filename} 压缩比为 {m.file_size / max(m.compress_size, 1):.0f}:1",
                                f"{m.filename} is packed {m.file_size / max(m.compress_size, 1):.0f}:1")
            parts = PurePosixPath(m.filename).parts
            if m.filename.startswith("/") or ".." in parts:
                raise invalid("package", f"zip 中的路径不安全：{m.filename}", f"Unsafe path in the zip: {m.filename}", 400, "InvalidParameterValue")
        target.mkdir(parents=True, exist_ok=True)
        budget = lim["max_uncompressed_mb"] * MB
        for m in members:
            out = target / m.filename
            out.parent.mkdir(parents=True, exist_ok=True)
            # The sizes in the directory can lie: count what really comes out.
            with archive.open(m) as src, open(out, "wb") as dst:
                while chunk := src.read(MB):
                    budget -= len(chunk)
                    if budget < 0:
                        raise _zip_bomb("解压后的实际大小超过上限", "what it really unpacks to exceeds the limit")
                    dst.write(chunk)
    files = [p for p in target.rglob("*") if p.is_file()]
    gpkgs = [p for p in files if p.suffix.lower() == ".gpkg"]
    shps = sorted(p for p in files if p.suffix.lower() == ".shp")
    if gpkgs and not shps:
        if len(gpkgs) > 1:
            raise invalid("package", "zip 中有多个 GeoPackage，只能有一个", "The zip holds several GeoPackages: one only", 400, "InvalidParameterValue")
        return Package("gpkg", path, _gpkg_layers(gpkgs[0]))
    if not shps:
        raise invalid("package", "zip 压缩包中没有 shapefile（.shp）或 GeoPackage", "The zip holds no shapefile (.shp) nor GeoPackage", 400, "InvalidParameterValue")
    layers = []
    seen: set[str] = set()
    for shp in shps:
        name = shp.stem.upper()
        if name in seen:
            raise invalid(name, f"zip 中图层 {name} 出现了多次", f"Layer {name} appears more than once in the zip", 400, "InvalidParameterValue")
        seen.add(name)
        siblings = {p.suffix.lower(): p for p in shp.parent.glob(shp.stem + ".*")}
        missing = [ext for ext in SHAPEFILE_PARTS if ext not in siblings]
        if missing:
            raise invalid(shp.name, f"shapefile {shp.name} 缺少文件：{'、'.join(missing)}", f"Shapefile {shp.name} lacks {', '.join(missing)}", 400, "InvalidParameterValue")
        if ".prj" not in siblings:
            raise invalid(shp.name, f"shapefile {shp.name} 缺少 .prj 文件，坐标系未定义（STRUCT-CRS）", f"Shapefile {shp.name} has no .prj file: its coordinate system is "
                          f"missing (STRUCT-CRS)", 400, "InvalidParameterValue")
        layers.append(_inspect(shp, shp.stem, name, _encoding_option(siblings)))
    # A .dbf without a .shp is a table without geometry (GHZB).
    for dbf in sorted(p for p in files if p.suffix.lower() == ".dbf"):
        siblings = {p.suffix.lower(): p for p in dbf.parent.glob(dbf.stem + ".*")}
        if ".shp" not in siblings and dbf.stem.upper() not in seen:
            seen.add(dbf.stem.upper())
            layers.append(_inspect(dbf, dbf.stem, dbf.stem.upper(), _encoding_option(siblings)))
    return Package("shapefile-zip", path, tuple(layers))


def _encoding_option(siblings: dict[str, Path]) -> tuple[str, ...]:
    return () if ".cpg" in siblings else (f"ENCODING={_dbf_encoding(siblings['.dbf'])}",)


def _zip_bomb(zh: str, en: str) -> OneMapError:
    return invalid("package", f"zip 压缩包疑似压缩炸弹：{zh}", f"The zip looks like a zip bomb: {en}", 413, "PayloadTooLarge")


def _dbf_encoding(dbf: Path) -> str:
    """A .dbf without .cpg: UTF-8 when its text decodes so, else GBK (CP936),
    the usual encoding of Chinese shapefiles."""
    with open(dbf, "rb") as f:
        sample = f.read(MB)
    try:
        sample.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(sample) - 4:  # not just a character cut at the sample's end
            return "CP936"
    return "UTF-8"
