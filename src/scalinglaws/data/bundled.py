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
        Dataset(
            name="datablations",
            file="datablations.csv",
            description="182 runs with repeated data (Muennighoff et al. 2023): N_params, D_tokens, U_unique_tokens, "
            "val_loss; the set the authors fitted R_D*, R_N* on (law data_constrained)",
            y="val_loss",
            excluded=None,
            source="Muennighoff et al. 2023, arXiv:2305.16264; github.com/huggingface/datablations",
        ),
        Dataset(
            name="lr_schedules",
            file="lr_schedules.csv",
            description="loss curves of 25M/100M/400M models under 9 learning-rate schedules: step, lr, loss "
            "(law lr_annealing)",
            y="loss",
            excluded=None,
            source="Luo et al. 2025, arXiv:2503.12811; github.com/thu-yao-01-luo/MultiPowerLaw",
        ),
        Dataset(
            name="overtrain",
            file="overtrain.csv",
            description="104 over-trained models (Gadre et al. 2024): N_params, D_tokens, 8 validation losses, "
            "downstream errors (laws overtrain_cm, err_from_loss_exp)",
            y="loss_c4_val",
            excluded=None,
            source="Gadre et al. 2024, arXiv:2403.08540; github.com/mlfoundations/scaling",
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
