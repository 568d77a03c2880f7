"""Where everything lives under the results folder: the one place that spells a path.

The rule files and the package both ask a :class:`Layout` for paths. Methods that
take ``site`` and ``date`` return a Snakemake pattern (``{site}``, ``{date}``
wildcards) when called without them, and a concrete path when given them.

Stores are hive-partitioned: ``<store>/site=<site>/date=<YYYY-MM-DD>/part-0.parquet``,
and the partition keys live in the folder names only (never as columns in the files),
so every Parquet reader derives ``site`` and ``date`` from the path alike.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

PART_FILE = "part-0.parquet"
SITE = "{site}"
DATE = "{date}"
#: Wildcard of a batch's window of days, ``<first>_<last>`` (:mod:`ecoae.batches`).
DAYS = "{days}"


def partition_folder(site: str = SITE, date: str = DATE) -> str:
    """Hive folder of a partition relative to its store: ``site=<site>/date=<date>``."""
    return f"site={site}/date={date}"


def batch_folder(site: str = SITE, days: str = DAYS) -> str:
    """Folder of a batch job's records: ``site=<site>/days=<first>_<last>``."""
    return f"site={site}/days={days}"


@dataclass(frozen=True)
class Layout:
    """Paths of one results folder.

    Parameters
    ----------
    results : str
        The results folder (config ``results``), as given: relative paths stay relative.
    """

    results: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "results", str(self.results).rstrip("/") or ".")

    # ----------------------------------------------------------------- inventory

    @property
    def inventory_dir(self) -> str:
        """Folder of the inventory tables."""
        return f"{self.results}/inventory"

    @property
    def recordings(self) -> str:
        """Table of usable recordings."""
        return f"{self.inventory_dir}/recordings.parquet"

    @property
    def quarantine(self) -> str:
        """Table of files set aside, with reasons."""
        return f"{self.inventory_dir}/quarantine.parquet"

    @property
    def partitions(self) -> str:
        """TSV list of every partition (site, date, recordings, seconds)."""
        return f"{self.inventory_dir}/partitions.tsv"

    def manifest(self, site: str = SITE, date: str = DATE) -> str:
        """Recordings of one partition (rewritten only when they change)."""
        return f"{self.inventory_dir}/partitions/{partition_folder(site, date)}.parquet"

    @property
    def inventory_cache(self) -> str:
        """Folder of the inventory's cache of probed files (not an output: Snakemake leaves it)."""
        return f"{self.results}/.cache/inventory"

    # ----------------------------------------------------------------- stores

    @property
    def features_dir(self) -> str:
        """Folder holding one store per feature set."""
        return f"{self.results}/features"

    def store_dir(self, store: str) -> str:
        """Folder of a partitioned store: ``segments``, ``spectrograms`` or a feature set's name."""
        if store in ("segments", "spectrograms"):
            return f"{self.results}/{store}"
        return f"{self.features_dir}/{store}"

    def store_file(self, store: str, site: str = SITE, date: str = DATE) -> str:
        """One partition's file of a store (see :meth:`store_dir`)."""
        return f"{self.store_dir(store)}/{partition_folder(site, date)}/{PART_FILE}"

    def segments(self, site: str = SITE, date: str = DATE) -> str:
        """One partition of the segment store."""
        return self.store_file("segments", site, date)

    def spectrograms(self, site: str = SITE, date: str = DATE) -> str:
        """One partition of the spectrogram-image store."""
        return self.store_file("spectrograms", site, date)

    def features(self, feature_set: str, site: str = SITE, date: str = DATE) -> str:
        """One partition of a feature set's store."""
        return self.store_file(feature_set, site, date)

    @property
    def problems_dir(self) -> str:
        """Folder of the problem tables: one store per stage that reads audio."""
        return f"{self.results}/problems"

    def problems(self, stage: str, site: str = SITE, date: str = DATE) -> str:
        """Segments of one partition that ``stage`` could not process, with the reasons."""
        return f"{self.problems_dir}/{stage}/{partition_folder(site, date)}/{PART_FILE}"

    # ----------------------------------------------------------------- models

    @property
    def models_dir(self) -> str:
        """Folder holding one folder per model."""
        return f"{self.results}/models"

    @property
    def training_sample(self) -> str:
        """The frozen training sample shared by every image model."""
        return f"{self.models_dir}/training_sample.parquet"

    @property
    def training_images(self) -> str:
        """The training sample's images, rendered from the archive."""
        return f"{self.models_dir}/training_images.parquet"

    def model_dir(self, model: str = "{model}") -> str:
        """Folder of one trained model."""
        return f"{self.models_dir}/{model}"

    def model_file(self, name: str, model: str = "{model}") -> str:
        """A file of a model folder: ``model.pt``, ``training_sample.parquet``, figures, tables."""
        return f"{self.model_dir(model)}/{name}"

    # ----------------------------------------------------------------- records of the run

    def log(self, step: str, site: str | None = SITE, days: str = DAYS) -> str:
        """Log of a job; per batch (:mod:`ecoae.batches`) unless ``site`` is None. ``step`` may hold ``/``."""
        tail = f"/{batch_folder(site, days)}.log" if site is not None else ".log"
        return f"{self.results}/logs/{step}{tail}"

    @property
    def benchmarks_dir(self) -> str:
        """Folder of Snakemake's per-job benchmark records."""
        return f"{self.results}/benchmarks"

    def benchmark(self, step: str, site: str | None = SITE, days: str = DAYS) -> str:
        """Benchmark record of a job: ``benchmarks/<step>[/site=…/days=…].tsv``."""
        tail = f"/{batch_folder(site, days)}.tsv" if site is not None else ".tsv"
        return f"{self.benchmarks_dir}/{step}{tail}"

    @property
    def costs_dir(self) -> str:
        """Folder of the stage costs measured inside jobs that serve several feature sets."""
        return f"{self.results}/costs"

    def costs(self, step: str, site: str = SITE, days: str = DAYS) -> str:
        """CPU seconds per stage of one batch job (``costs/<step>/site=…/days=….tsv``, beside its benchmark)."""
        return f"{self.costs_dir}/{step}/{batch_folder(site, days)}.tsv"

    def batch_record(self, step: str, site: str = SITE, days: str = DAYS) -> str:
        """What a batch job wrote, one line per partition (``batches/<step>/site=…/days=….tsv``).

        The output Snakemake tracks for the per-day store files the job writes.
        """
        return f"{self.results}/batches/{step}/{batch_folder(site, days)}.tsv"

    @property
    def evaluation_dir(self) -> str:
        """Folder of the comparative evaluation."""
        return f"{self.results}/evaluation"


def read_partition_list(path: str | Path) -> list[tuple[str, str]]:
    """``(site, date)`` of every partition in the inventory's ``partitions.tsv``, in file order."""
    with open(path, newline="") as handle:
        return [(row["site"], row["date"]) for row in csv.DictReader(handle, delimiter="\t")]


def list_partitions(store_dir: str | Path, partition_list: str | Path | None = None) -> list[tuple[str, str]]:
    """Return the sorted ``(site, date)`` of the partitions to read.

    Parameters
    ----------
    store_dir : str or Path
        The segment store folder.
    partition_list : str or Path, optional
        The inventory's ``partitions.tsv``: the explicit list the workflow uses. Without
        it, every partition file found under ``store_dir``.
    """
    if partition_list is not None:
        return sorted(read_partition_list(partition_list))
    return sorted(partition_of(path) for path in Path(store_dir).glob(f"site=*/date=*/{PART_FILE}"))


def partition_file(store_dir: str | Path, partition: tuple[str, str]) -> Path:
    """Return the Parquet file of ``partition`` in ``store_dir``."""
    return Path(store_dir) / partition_folder(*partition) / PART_FILE


def manifest_partition(path: str | Path) -> tuple[str, str]:
    """``(site, date)`` of an inventory manifest ``…/site=<site>/date=<date>.parquet``.

    Raises
    ------
    ValueError
        When the path is not named like a manifest.
    """
    path = Path(path)
    keys = _hive_keys(path.parent.name, path.name.removesuffix(".parquet"))
    if keys is None:
        raise ValueError(f"{path} is not a partition manifest (expected …/site=<site>/date=<date>.parquet)")
    return keys


def partition_of(path: str | Path) -> tuple[str, str]:
    """``(site, date)`` of a store file from its folders ``site=…/date=…``.

    Raises
    ------
    ValueError
        When the path is not inside ``site=…/date=…`` folders.
    """
    path = Path(path)
    keys = _hive_keys(path.parent.parent.name, path.parent.name)
    if keys is None:
        raise ValueError(f"{path} is not a store partition file (expected …/site=<site>/date=<date>/part-0.parquet)")
    return keys


def _hive_keys(site: str, date: str) -> tuple[str, str] | None:
    """``(site, date)`` from names ``site=<site>`` and ``date=<date>``; None when they are not."""
    if site.startswith("site=") and date.startswith("date="):
        return site.removeprefix("site="), date.removeprefix("date=")
    return None
