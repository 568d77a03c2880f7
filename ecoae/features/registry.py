"""Feature sets computed from each segment's audio, and how the workflow finds them.

Every such set has the same shape: a config section (a class in :mod:`ecoae.settings`),
a function ``analysis(audio, settings) -> Analysis`` naming what to compute from one
segment's samples (and at which rate), and a function ``table(results, settings) ->
FeatureTable`` that turns the rows of a partition into its store table: the segment key
columns followed by the set's feature columns and its ``qc_*`` flags, plus the segments
whose audio could not be used (:mod:`ecoae.problems`).
:func:`ecoae.features.segment_workers.map_segment_audio` does the reading (once per
segment for all sets), the spreading over processes and the problem bookkeeping. The
command line (``ecoae audio-features``, ``ecoae <set>``), the workflow rule
(``features_audio.smk``, one job per partition for all sets), the stores, the evaluation
and the timings all follow from one entry in :data:`AUDIO_FEATURE_SETS`.

Adding a set: write ``ecoae/features/<name>.py`` with its two functions, add its
settings class and section to :mod:`ecoae.settings` (and the schema), then register it here.
A set whose section has an ``enabled`` key runs only when it is on (:func:`enabled_sets`);
one that needs an optional extra names a ``check`` function, called at start-up
(:func:`check_enabled_sets`).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ecoae.settings import AudioSettings, Section, Settings, SettingsError

if TYPE_CHECKING:  # the workflow imports this module at parse time: keep it light
    from ecoae.features.segment_workers import Analysis, FeatureTable, SegmentResults


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
        Module holding its functions (imported only when the set runs).
    analysis : str
        ``analysis(audio, settings) -> Analysis``: what is computed from each segment.
    table : str
        ``table(results, settings) -> FeatureTable``: the store table of a partition's rows,
        where ``settings`` is the analysis's own.
    section : str
        Its config section (a field of :class:`ecoae.settings.Settings`).
    check : str
        Optional function of ``module``, ``check() -> str | None``: why the set cannot
        run in this environment (one line naming the install command), or None.
    """

    name: str
    summary: str
    module: str
    analysis: str
    table: str
    section: str
    check: str = ""

    def settings_class(self) -> type[Section]:
        """The class of the set's config section."""
        return type(getattr(Settings(), self.section))

    def settings(self, config: Settings) -> Section:
        """The set's section of a whole configuration."""
        return getattr(config, self.section)

    def enabled(self, config: Settings) -> bool:
        """Whether a run computes the set: its section's ``enabled``, else always."""
        return bool(getattr(self.settings(config), "enabled", True))

    def unavailable(self) -> str | None:
        """Why the set cannot run here (a missing optional extra), or None."""
        return getattr(importlib.import_module(self.module), self.check)() if self.check else None

    def make_analysis(self, audio: AudioSettings, settings: Section) -> Analysis:
        """The set's analysis for a pass over a partition's audio."""
        return getattr(importlib.import_module(self.module), self.analysis)(audio, settings)

    def make_table(self, results: SegmentResults, analysis: Analysis) -> FeatureTable:
        """The store table of the set's rows from a pass."""
        return getattr(importlib.import_module(self.module), self.table)(results, analysis.settings)


AUDIO_FEATURE_SETS: dict[str, AudioFeatureSet] = {
    entry.name: entry
    for entry in (
        AudioFeatureSet(
            "indices", "scikit-maad acoustic indices of a segment-store partition",
            "ecoae.features.indices", "indices_analysis", "indices_table", "indices",
        ),
        AudioFeatureSet(
            "mfcc", "MFCC summary statistics of a segment-store partition",
            "ecoae.features.mfcc", "mfcc_analysis", "mfcc_table", "mfcc",
        ),
        AudioFeatureSet(
            "birdnet", "BirdNET V2.4 embedding statistics of a segment-store partition (extra [birdnet])",
            "ecoae.features.birdnet", "birdnet_analysis", "birdnet_table", "birdnet", check="missing_extra",
        ),
    )
}


def enabled_sets(config: Settings) -> list[str]:
    """Names of the registered sets a run computes and compares, in registry order."""
    return [name for name, entry in AUDIO_FEATURE_SETS.items() if entry.enabled(config)]


def check_enabled_sets(config: Settings) -> None:
    """Stop before any work when an enabled set cannot run here.

    Raises
    ------
    SettingsError
        Naming the set, what is missing and the command that installs it.
    """
    for name in enabled_sets(config):
        entry = AUDIO_FEATURE_SETS[name]
        reason = entry.unavailable()
        if reason:
            raise SettingsError(f"config.{entry.section}.enabled is true but {reason}")
