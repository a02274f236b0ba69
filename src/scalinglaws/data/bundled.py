"""Real published datasets shipped inside the package, each with its PROVENANCE.md."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources

import pandas as pd

from ..errors import InputError
from .runs import Runs


@dataclass(frozen=True)
class Dataset:
    name: str
    file: str
    description: str
    y: str
    excluded: str | None
    source: str

    def provenance(self) -> str:
        return (resources.files(__package__) / "bundled" / self.name / "PROVENANCE.md").read_text(encoding="utf-8")

    def describe(self) -> dict:
        return {"name": self.name, "description": self.description, "y": self.y, "excluded": self.excluded,
                "source": self.source}


DATASETS: dict[str, Dataset] = {
    d.name: d
    for d in (
        Dataset(
            name="chinchilla",
            file="chinchilla.csv",
            description="245 runs of Hoffmann et al. 2022 Fig. 4 (Epoch AI's SVG extraction): N, D, C, loss; "
            "the 5 highest-loss runs Epoch drops are marked excluded",
            y="loss",
            excluded="excluded",
            source="Besiroglu et al. 2024, arXiv:2404.10102; github.com/epoch-research/analyzing-chinchilla",
        ),
    )
}


def get_dataset(name: str) -> Dataset:
    try:
        return DATASETS[name]
    except KeyError:
        raise InputError(f"unknown dataset `{name}`; bundled datasets: {', '.join(sorted(DATASETS))}") from None


def load_dataset(name: str) -> Runs:
    """The bundled dataset ``name`` as `Runs`."""
    d = get_dataset(name)
    with (resources.files(__package__) / "bundled" / d.name / d.file).open("rb") as fh:
        table = pd.read_csv(fh)
    return Runs(table, source=name, excluded=d.excluded, y=d.y)
