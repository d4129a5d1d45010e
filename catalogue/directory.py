"""The data directory (数据目录): a tree of classes read from YAML.

Top classes (大类), middle classes (中类), small classes (小类); a layer of the
registry belongs to one small class, named by its path of Chinese names.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from onemap.core.registry import Layer, Text
from onemap.core.settings import load_yaml

DIRECTORY_FILE = Path(__file__).resolve().parent / "directory.yaml"
LEVELS = (Text("大类", "top class"), Text("中类", "middle class"), Text("小类", "small class"))
_CODE = re.compile(r"^(\d\d){1,3}$")


class CatalogueError(ValueError):
    """Bad catalogue input (a directory file, a layer's directory path, a record
    pycsw cannot take), in Chinese and English."""

    def __init__(self, zh: str, en: str) -> None:
        super().__init__(f"{zh} / {en}")
        self.zh, self.en = zh, en


@dataclass(frozen=True)
class DirectoryClass:
    code: str
    name: Text
    parent_code: str | None
    path: tuple[str, ...]  # Chinese names from the top class down

    @property
    def level(self) -> int:
        """1 top, 2 middle, 3 small."""
        return len(self.path)


@dataclass(frozen=True)
class Directory:
    classes: tuple[DirectoryClass, ...]  # parents before their children

    def counts(self) -> tuple[int, ...]:
        return tuple(sum(1 for c in self.classes if c.level == level) for level in (1, 2, 3))

    def class_of(self, layer: Layer) -> DirectoryClass:
        """The small class a layer's `directory` path names."""
        for cls in self.classes:
            if cls.path == layer.directory:
                if cls.level != len(LEVELS):
                    break
                return cls
        path = " / ".join(layer.directory)
        raise CatalogueError(
            f"图层 {layer.id} 的数据目录分类“{path}”不是数据目录中的小类",
            f"layer {layer.id}: directory path '{path}' is not a small class of the data directory")


def parse_directory(data: dict[str, Any]) -> Directory:
    """A directory from its YAML data (see catalogue/directory.yaml)."""
    classes: list[DirectoryClass] = []

    def walk(entries: Iterable[dict[str, Any]], parent: DirectoryClass | None) -> None:
        level = (parent.level if parent else 0) + 1
        for entry in entries:
            try:
                code, name = str(entry["code"]), Text(**entry["name"])
            except (KeyError, TypeError) as exc:
                raise CatalogueError(f"数据目录条目缺少 code 或 name（zh、en）：{entry!r}",
                                     f"directory entry without code or name (zh, en): {entry!r}") from exc
            where = f"{code} {name.zh}"
            if not _CODE.match(code) or len(code) != 2 * level or (parent and not code.startswith(parent.code)):
                raise CatalogueError(
                    f"数据目录分类 {where} 的编码应为{2 * level}位数字并以上级编码开头",
                    f"directory class {where}: the code must be {2 * level} digits starting with its parent's code")
            children = entry.get("children") or []
            if children and level == len(LEVELS):
                raise CatalogueError(f"数据目录只有三级，小类 {where} 不能再有下级",
                                     f"the directory has three levels: small class {where} cannot have children")
            cls = DirectoryClass(code, name, parent.code if parent else None,
                                 (*(parent.path if parent else ()), name.zh))
            classes.append(cls)
            walk(children, cls)

    walk(data.get("directory") or [], None)
    for attr, zh, en in (("code", "编码", "code"), ("path", "名称路径", "name path")):
        seen: set[object] = set()
        for cls in classes:
            if getattr(cls, attr) in seen:
                raise CatalogueError(f"数据目录分类{zh}重复：{cls.code} {cls.name.zh}",
                                     f"duplicate directory class {en}: {cls.code} {cls.name.en}")
            seen.add(getattr(cls, attr))
    return Directory(tuple(classes))


def load_directory(path: Path = DIRECTORY_FILE) -> Directory:
    return parse_directory(load_yaml(path))


def padded_directory(data: dict[str, Any], middle: int, small: int) -> dict[str, Any]:
    """The directory `data` with generated classes added until it has `middle`
    middle and `small` small classes (e.g. the 4 / 29 / 369 of a full
    municipal directory), spread over its top and middle classes."""
    tops = [dict(top, children=[dict(m, children=list(m.get("children") or []))
                                for m in top.get("children") or []]) for top in data["directory"]]
    middles = [m for top in tops for m in top["children"]]
    for n in range(len(middles), middle):
        top = tops[n % len(tops)]
        code = f"{top['code']}{len(top['children']) + 1:02d}"
        entry = {"code": code, "name": {"zh": f"{top['name']['zh']}扩展中类{code}",
                                        "en": f"{top['name']['en']} extension class {code}"}, "children": []}
        top["children"].append(entry)
        middles.append(entry)
    existing = sum(len(m["children"]) for m in middles)
    for n in range(existing, small):
        mid = middles[n % len(middles)]
        code = f"{mid['code']}{len(mid['children']) + 1:02d}"
        mid["children"].append({"code": code, "name": {"zh": f"{mid['name']['zh']}小类{code}",
                                                       "en": f"{mid['name']['en']} class {code}"}})
    return {"directory": tops}
