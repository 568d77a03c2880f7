"""Feature sets computed from each segment's audio, and how the workflow finds them.

Every such set has the same shape: a config section (a class in :mod:`ecoae.settings`)
and a function ``compute(segments, archive, audio, settings, threads) -> FeatureTable``
that returns, for one segment-store partition, the segment key columns (order of
``segments``) followed by the set's feature columns and its ``qc_*`` flags, plus the
segments whose audio could not be used (:mod:`ecoae.problems`).
:func:`ecoae.features.segment_workers.map_segment_audio` does the reading, the
spreading over processes and the problem bookkeeping for it. The
command line (``ecoae <set>``), the workflow rule (``features_audio.smk``), the stores,
the evaluation and the timings all follow from one entry in :data:`AUDIO_FEATURE_SETS`.

Adding a set: write ``ecoae/features/<name>.py`` with its ``compute`` function, add its
settings class and section to :mod:`ecoae.settings` (and the schema), then register it here.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Callable

import pandas as pd

from ecoae.settings import AudioSettings, Section, Settings


@dataclass(frozen=True)
class AudioFeatureSet:
    """One feature set computed from segment audio.

    Parameters
    ----------
    name : str
        Store and command name (``results/features/<name>``, ``ecoae <name>``).
    summary : str
        One line for ``ecoae --help``.
    module : str
        Module holding the compute function (imported only when the set runs).
    function : str
        ``compute(segments, archive, audio, settings, threads) -> FeatureTable``.
    section : str
        Its config section (a field of :class:`ecoae.settings.Settings`).
    """

    name: str
    summary: str
    module: str
    function: str
    section: str

    def settings_class(self) -> type[Section]:
        """The class of the set's config section."""
        return type(getattr(Settings(), self.section))

    def settings(self, config: Settings) -> Section:
        """The set's section of a whole configuration."""
        return getattr(config, self.section)

    def compute(self) -> Callable[[pd.DataFrame, str, AudioSettings, Section, int], tuple[pd.DataFrame, pd.DataFrame]]:
        """Import and return the compute function."""
        return getattr(importlib.import_module(self.module), self.function)


AUDIO_FEATURE_SETS: dict[str, AudioFeatureSet] = {
    entry.name: entry
    for entry in (
        AudioFeatureSet(
            "indices", "scikit-maad acoustic indices of a segment-store partition",
            "ecoae.features.indices", "partition_indices", "indices",
        ),
        AudioFeatureSet(
            "mfcc", "MFCC summary statistics of a segment-store partition",
            "ecoae.features.mfcc", "partition_mfcc", "mfcc",
        ),
    )
}
