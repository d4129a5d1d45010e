"""The data directory (数据目录): a tree of classes read from YAML.

Top classes (大类), middle classes (中类), small classes (小类); a layer of the
registry belongs to one small class, named by its path of Chinese names.
Every small class says where its data comes from, what it is for, how it is
updated and who is responsible (有来源、有用途、有更新机制), its own or its
middle class's; a small class no layer belongs to has no data yet (暂无数据).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from onemap.core.registry import Text
from onemap.core.settings import load_yaml

DIRECTORY_FILE = Path(__file__).resolve().parent / "directory.yaml"
LEVELS = (Text("大类", "top class"), Text("中类", "middle class"), Text("小类", "small class"))
_CODE = re.compile(r"^(\d\d){1,3}$")
# what every small class says of its data, its own or its middle class's
FACTS = {"source": Text("来源", "source"), "purpose": Text("用途", "purpose"),
         "update": Text("更新机制", "update"), "department": Text("责任部门", "department")}
NO_DATA = Text("暂无数据", "no data yet")


class CatalogueError(ValueError):
    """Bad catalogue input (a directory file, a layer's directory path, a record
    pycsw cannot take), in Chinese and English."""

    def __init__(self, zh: str, en: str) -> None:
        super().__init__(f"{zh} / {en}")
        self.zh, self.en = zh, en


class Placed(Protocol):
    """What the directory places: a registry layer or an evaluation result."""

    id: str
    directory: tuple[str, ...]


@dataclass(frozen=True)
class DirectoryClass:
    code: str
    name: Text
    parent_code: str | None
    path: tuple[str, ...]  # Chinese names from the top class down
    facts: tuple[tuple[str, Text], ...] = ()  # (source / purpose / update / department, text)

    def fact(self, name: str) -> Text | None:
        return dict(self.facts).get(name)

    @property
    def level(self) -> int:
        """1 top, 2 middle, 3 small."""
        return len(self.path)


@dataclass(frozen=True)
class Directory:
    classes: tuple[DirectoryClass, ...]  # parents before their children

    def counts(self) -> tuple[int, ...]:
        return tuple(sum(1 for c in self.classes if c.level == level) for level in (1, 2, 3))

    def class_of(self, layer: Placed) -> DirectoryClass:
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

    def with_data(self, layers: Iterable[Placed]) -> frozenset[str]:
        """Codes of the small classes some layer belongs to; the others are
        暂无数据."""
        return frozenset(self.class_of(layer).code for layer in layers)


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
            facts = dict(parent.facts) if parent else {}
            for fact in FACTS:
                if fact in entry:
                    try:
                        facts[fact] = Text(**entry[fact])
                    except TypeError as exc:
                        raise CatalogueError(f"数据目录分类 {where} 的 {FACTS[fact].zh} 应有 zh 和 en",
                                             f"directory class {where}: {fact} needs zh and en") from exc
            missing = [FACTS[f] for f in FACTS if f not in facts]
            if level == len(LEVELS) and missing:
                raise CatalogueError(
                    f"数据目录小类 {where} 缺少{'、'.join(m.zh for m in missing)}（本类或其中类应写明）",
                    f"directory small class {where} lacks {', '.join(m.en for m in missing)} (its own or its middle class's)")
            cls = DirectoryClass(code, name, parent.code if parent else None,
                                 (*(parent.path if parent else ()), name.zh), tuple(facts.items()))
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
