"""Plan packages for the tests: read a GeoPackage into plain layers, change
them (inject a defect), write them back."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyogrio
import shapely


@dataclass
class Layer:
    name: str
    crs: str | None
    geometry_type: str | None
    fields: list[str]
    rows: list[dict] = field(default_factory=list)       # attributes by field
    geoms: list[shapely.Geometry | None] = field(default_factory=list)

    def column(self, name: str) -> list:
        return [r[name] for r in self.rows]

    def append(self, row: dict, geom: shapely.Geometry | None) -> int:
        """Add a feature; returns its fid in the written GeoPackage."""
        self.rows.append(dict(row))
        self.geoms.append(geom)
        return len(self.rows)


def read(path: Path) -> dict[str, Layer]:
    layers = {}
    for name, _ in pyogrio.list_layers(path):
        meta, _, geometry, data = pyogrio.raw.read(path, layer=name)
        fields = [str(f) for f in meta["fields"]]
        rows = [dict(zip(fields, values, strict=True)) for values in zip(*data, strict=True)] if fields else []
        geoms = list(shapely.from_wkb(geometry)) if geometry is not None else [None] * len(rows)
        layers[str(name)] = Layer(str(name), meta["crs"], meta["geometry_type"], fields, rows, geoms)
    return layers


def write(path: Path, layers: dict[str, Layer]) -> Path:
    path.unlink(missing_ok=True)
    for i, layer in enumerate(layers.values()):
        data = [np.array([r[f] for r in layer.rows],
                         dtype=float if isinstance(layer.rows[0][f], float) else object) for f in layer.fields]
        spatial = layer.geometry_type not in (None, "Unknown")
        geometry = (np.array([shapely.to_wkb(g) if g is not None else None for g in layer.geoms], dtype=object)
                    if spatial else None)
        pyogrio.raw.write(path, geometry=geometry, field_data=data, fields=layer.fields, layer=layer.name,
                          driver="GPKG", geometry_type=layer.geometry_type if spatial else None,
                          crs=layer.crs if spatial else None, append=i > 0)
    return path


def fid(index: int) -> str:
    """The fid (as findings name it) of the feature at a list position."""
    return str(index + 1)
