"""Every setting of ecoae, defined once: one typed, frozen class per config section.

These classes hold the only defaults. ``config/config.yaml`` shows them with comments,
``workflow/schemas/*.schema.yaml`` checks types and ranges at start-up, and a test keeps
both in step with the classes. A section is built from a mapping with
:meth:`Section.from_mapping`, which refuses unknown keys (with a "did you mean" where a
key is close to a known one), and reduced to its canonical JSON with
:meth:`Section.to_json`: that one string is the rule's ``params`` (so a changed setting
re-runs what depends on it), the CLI's argument and the metadata of every Parquet file
and checkpoint. Runtime-only keys (``threads`` and the like, listed in ``RUNTIME``)
are left out of the canonical form: they change how fast, never what is computed.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import json
import re
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Mapping


class SettingsError(ValueError):
    """A setting is unknown or has a value ecoae cannot use; the message names the key."""


def _did_you_mean(key: str, known: list[str]) -> str:
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else f"; valid keys: {', '.join(sorted(known))}"


def _convert(value: Any, hint: Any, where: str) -> Any:
    """Turn a plain config value into the declared type (sections, tuples, dicts of sections)."""
    origin = typing.get_origin(hint)
    arguments = typing.get_args(hint)
    if isinstance(hint, type) and issubclass(hint, Section):
        if isinstance(value, hint):
            return value
        if not isinstance(value, Mapping):
            raise SettingsError(f"{where} must be a mapping, not {value!r}")
        return hint.from_mapping(value, where)
    if origin is tuple and isinstance(value, (list, tuple)):
        item = arguments[0] if arguments else Any
        return tuple(_convert(v, item, f"{where}[{n}]") for n, v in enumerate(value))
    if origin is dict and isinstance(value, Mapping):
        item = arguments[1] if len(arguments) == 2 else Any
        return {str(k): _convert(v, item, f"{where}.{k}") for k, v in value.items()}
    if origin in (typing.Union, types.UnionType):
        if value is None:
            return None
        for option in arguments:
            if typing.get_origin(option) is tuple and isinstance(value, (list, tuple)):
                return _convert(value, option, where)
        if float in arguments and isinstance(value, int) and not isinstance(value, bool):
            return float(value)
        return value
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


@functools.lru_cache(maxsize=None)
def _hints(cls: type) -> dict[str, Any]:
    """Declared types of a section's fields."""
    return {f.name: typing.get_type_hints(cls)[f.name] for f in dataclasses.fields(cls)}


def _plain(value: Any) -> Any:
    """Sections, tuples and dicts -> JSON-ready dicts and lists."""
    if isinstance(value, Section):
        return value.canonical()
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


@dataclass(frozen=True)
class Section:
    """Base of every settings class: strict construction and a canonical JSON form."""

    #: Keys that change speed, not results: not in :meth:`canonical`, so never a re-run trigger.
    RUNTIME: ClassVar[tuple[str, ...]] = ()
    #: Keys added after a release, with the value that reproduces that release: left out of
    #: :meth:`canonical` at that value, so a new setting never re-runs finished jobs.
    ADDED_LATER: ClassVar[dict[str, Any]] = {}

    def __post_init__(self) -> None:
        # One representation whatever the source (YAML ints for floats, lists for tuples),
        # so that equal settings always give the same canonical JSON.
        for name, hint in _hints(type(self)).items():
            value = getattr(self, name)
            object.__setattr__(self, name, _convert(value, hint, f"{type(self).__name__}.{name}"))

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any] | None = None, where: str = "") -> "Section":
        """Build the section from a mapping; missing keys take the class defaults.

        Parameters
        ----------
        values : mapping, optional
            The config section (or a canonical JSON loaded back).
        where : str
            Dotted name of the section, used in error messages.

        Raises
        ------
        SettingsError
            On an unknown key or an unusable value; the message names the key.
        """
        where = where or cls.__name__
        values = dict(values or {})
        names = [f.name for f in dataclasses.fields(cls)]
        for key in values:
            if key not in names:
                raise SettingsError(f"unknown setting {where}.{key}{_did_you_mean(key, names)}")
        hints = _hints(cls)
        converted = {key: _convert(value, hints[key], f"{where}.{key}") for key, value in values.items()}
        try:
            return cls(**converted)
        except (TypeError, ValueError) as error:
            if isinstance(error, SettingsError):
                raise
            raise SettingsError(f"{where}: {error}") from None

    def canonical(self) -> dict[str, Any]:
        """Plain mapping of the result-affecting settings (runtime keys left out)."""
        values = {f.name: _plain(getattr(self, f.name)) for f in dataclasses.fields(self) if f.name not in self.RUNTIME}
        return {name: value for name, value in values.items()
                if name not in self.ADDED_LATER or value != self.ADDED_LATER[name]}

    def to_json(self) -> str:
        """Canonical JSON (sorted keys, runtime keys left out)."""
        return json.dumps(self.canonical(), sort_keys=True)

    def replace(self, **changes: Any) -> "Section":
        """A copy with some settings changed (checked like a new section)."""
        return type(self).from_mapping({**{f.name: getattr(self, f.name) for f in dataclasses.fields(self)}, **changes})


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise SettingsError(message)


def _one_of(name: str, value: Any, choices: tuple) -> None:
    _check(value in choices, f"{name} must be one of {list(choices)}, not {value!r}")


# --------------------------------------------------------------------------- archive side


@dataclass(frozen=True)
class InventorySettings(Section):
    """How the archive is scanned (config ``inventory``)."""

    RUNTIME: ClassVar[tuple[str, ...]] = ("threads",)
    MISSING_TIME: ClassVar[tuple[str, ...]] = ("mtime", "quarantine")

    extensions: tuple[str, ...] = ("wav", "flac", "mp3", "ogg")
    site_pattern: str = "^(?P<site>[^/]+)/"
    timezone: str = "UTC"
    site_timezones: dict[str, str] = field(default_factory=dict)
    filename_regex: tuple[str, ...] = ()
    missing_time: str = "mtime"
    accept_truncated: bool = False
    follow_links: bool = False
    threads: int = 4

    def __post_init__(self) -> None:
        super().__post_init__()
        _one_of("inventory.missing_time", self.missing_time, self.MISSING_TIME)
        _check(bool(self.extensions), "inventory.extensions must name at least one file type")
        try:
            pattern = re.compile(self.site_pattern)
        except re.error as error:
            raise SettingsError(f"inventory.site_pattern is not a valid regex: {error}") from None
        _check("site" in pattern.groupindex, "inventory.site_pattern needs a named group (?P<site>...)")


@dataclass(frozen=True)
class SegmentSettings(Section):
    """How recordings are cut into segments (config ``segments``)."""

    PARTIAL: ClassVar[tuple[str, ...]] = ("keep", "drop")

    segment_seconds: float = 60.0
    min_segment_seconds: float = 1.0
    partial: str = "keep"

    def __post_init__(self) -> None:
        super().__post_init__()
        _one_of("segments.partial", self.partial, self.PARTIAL)
        _check(self.segment_seconds > 0, "segments.segment_seconds must be positive")
        _check(self.min_segment_seconds >= 0, "segments.min_segment_seconds must be >= 0")


@dataclass(frozen=True)
class JobSettings(Section):
    """How per-partition work is grouped into workflow jobs (config ``jobs``; speed only).

    ``days_per_job``: the segmentation, audio-feature and image jobs each serve the days
    of one site in one window of this many days (Monday-aligned: 7 is an ISO week),
    writing the usual per-day stores (:mod:`ecoae.batches`). Fewer, larger jobs keep
    Snakemake's plan small for archives of thousands of site-days; a new recording
    re-runs its own window's jobs.
    """

    RUNTIME: ClassVar[tuple[str, ...]] = ("days_per_job",)

    days_per_job: int = 7

    def __post_init__(self) -> None:
        super().__post_init__()
        _check(isinstance(self.days_per_job, int) and self.days_per_job >= 1,
               f"jobs.days_per_job must be a whole number of days >= 1, not {self.days_per_job!r}")


@dataclass(frozen=True)
class AudioSettings(Section):
    """How every stage reads audio (config ``audio``)."""

    sample_rate: int = 22050
    channel: str | int = "mix"

    def __post_init__(self) -> None:
        super().__post_init__()
        _check(int(self.sample_rate) >= 1000, f"audio.sample_rate must be >= 1000 Hz, not {self.sample_rate}")
        _check(
            self.channel == "mix" or (isinstance(self.channel, int) and self.channel >= 0),
            f"audio.channel must be 'mix' or a channel index, not {self.channel!r}",
        )


# --------------------------------------------------------------------------- image features


@dataclass(frozen=True)
class SpectrogramSettings(Section):
    """How segments become 128x128 images (config ``spectrogram``)."""

    RUNTIME: ClassVar[tuple[str, ...]] = ("threads",)
    FREQUENCY_SCALES: ClassVar[tuple[str, ...]] = ("linear", "mel")
    TIME_POOLINGS: ClassVar[tuple[str, ...]] = ("mean", "max")

    n_fft: int = 512
    hop_length: int = 256
    frequency_scale: str = "linear"
    fmin: float = 0.0
    fmax: float | None = None
    db_floor: float = -120.0
    db_ceiling: float = -20.0
    time_pooling: str = "mean"
    threads: int = 2

    def __post_init__(self) -> None:
        super().__post_init__()
        _one_of("spectrogram.frequency_scale", self.frequency_scale, self.FREQUENCY_SCALES)
        _one_of("spectrogram.time_pooling", self.time_pooling, self.TIME_POOLINGS)


@dataclass(frozen=True)
class ModelSettings(Section):
    """One auto-encoder (an entry of config ``autoencoder.models``)."""

    VARIANTS: ClassVar[tuple[str, ...]] = ("explicit", "implicit")
    CENTRINGS: ClassVar[tuple[str, ...]] = ("none", "image", "output")
    NORMS: ClassVar[tuple[str, ...]] = ("none", "batch")
    UNPOOLINGS: ClassVar[tuple[str, ...]] = ("nearest", "switches")

    variant: str = "explicit"
    feature_size: int = 384
    channels: tuple[int, ...] = (8, 16, 32, 64)
    centring: str = "image"
    norm: str = "none"
    bottleneck_relu: bool = False
    unpooling: str = "nearest"
    checkpoint: str = ""

    def __post_init__(self) -> None:
        super().__post_init__()
        _one_of("variant", self.variant, self.VARIANTS)
        _one_of("centring", self.centring, self.CENTRINGS)
        _one_of("norm", self.norm, self.NORMS)
        _one_of("unpooling", self.unpooling, self.UNPOOLINGS)
        _check(self.feature_size >= 1, f"feature_size must be positive, not {self.feature_size}")
        _check(len(self.channels) == 4 and min(self.channels) >= 1, "channels must be 4 positive widths")

    def architecture(self) -> dict[str, Any]:
        """What defines the network (the checkpoint's ``architecture`` record)."""
        values = self.canonical()
        values.pop("checkpoint")
        return values


@dataclass(frozen=True)
class TrainingSettings(Section):
    """Hyper-parameters of one training run (config ``autoencoder.training``)."""

    RUNTIME: ClassVar[tuple[str, ...]] = ("channels_last",)
    ADDED_LATER: ClassVar[dict[str, Any]] = {"precision": "float32"}
    LOSSES: ClassVar[tuple[str, ...]] = ("mse", "l1")
    OPTIMISERS: ClassVar[tuple[str, ...]] = ("adam", "adamw")
    SCHEDULES: ClassVar[tuple[str, ...]] = ("cosine", "constant")
    AUGMENTS: ClassVar[tuple[str, ...]] = ("none", "roll", "roll_inner")
    PRECISIONS: ClassVar[tuple[str, ...]] = ("float32", "bfloat16")

    epochs: int = 60
    batch_size: int = 32
    learning_rate: float = 3e-3
    weight_decay: float = 0.05
    optimiser: str = "adamw"
    loss: str = "mse"
    schedule: str = "cosine"
    warmup_fraction: float = 0.05
    min_steps: int = 4000
    max_steps: int = 20000
    evaluations: int = 30
    patience: int = 10
    min_delta: float = 1e-6
    augment: str = "roll_inner"
    mixup: float = 0.4
    validation_fraction: float = 0.2
    seed: int = 0
    channels_last: bool = True
    precision: str = "float32"

    def __post_init__(self) -> None:
        super().__post_init__()
        _one_of("training.loss", self.loss, self.LOSSES)
        _one_of("training.optimiser", self.optimiser, self.OPTIMISERS)
        _one_of("training.schedule", self.schedule, self.SCHEDULES)
        _one_of("training.augment", self.augment, self.AUGMENTS)
        _one_of("training.precision", self.precision, self.PRECISIONS)
        _check(self.mixup >= 0, f"training.mixup must be 0 (off) or a positive Beta parameter, not {self.mixup}")
        _check(0 <= self.validation_fraction < 1, "training.validation_fraction must be in [0, 1)")
        _check(0 <= self.warmup_fraction < 1, "training.warmup_fraction must be in [0, 1)")
        _check(self.epochs >= 1 and self.batch_size >= 1, "training.epochs and batch_size must be positive")
        _check(1 <= self.min_steps <= self.max_steps, "training: need 1 <= min_steps <= max_steps")
        _check(self.evaluations >= 1 and self.patience >= 1, "training.evaluations and patience must be positive")
        _check(self.learning_rate > 0 and self.weight_decay >= 0, "training.learning_rate must be positive")


@dataclass(frozen=True)
class DemoSettings(Section):
    """The synthetic demo archive (config ``demo``; see :mod:`ecoae.archive.demo`)."""

    sites: int = 3
    days: int = 2
    interval_minutes: int = 120
    recording_seconds: float = 60.0
    sample_rate: int = 16000
    seed: int = 7


DEVICE_PATTERN = re.compile(r"^(auto|cpu|cuda|cuda:\d+|mps)$")
MODEL_NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def _default_models() -> dict[str, ModelSettings]:
    return {
        "explicit384": ModelSettings(variant="explicit", feature_size=384, centring="output", norm="batch"),
        "implicit384": ModelSettings(variant="implicit", feature_size=384, norm="none"),
    }


@dataclass(frozen=True)
class AutoencoderSettings(Section):
    """Models, their frozen training sample, training and inference (config ``autoencoder``)."""

    RUNTIME: ClassVar[tuple[str, ...]] = ("device", "train_threads", "encode_threads", "encode_batch_size")

    models: dict[str, ModelSettings] = field(default_factory=_default_models)
    sample_size: int = 5000
    sample_seed: int = 0
    training: TrainingSettings = field(default_factory=TrainingSettings)
    demo_min_steps: int = 500
    device: str = "auto"
    train_threads: int = 4
    encode_threads: int = 1
    encode_batch_size: int = 16

    def __post_init__(self) -> None:
        super().__post_init__()
        _check(
            bool(DEVICE_PATTERN.match(str(self.device))),
            f"autoencoder.device must be auto, cpu, cuda, cuda:N or mps, not {self.device!r}",
        )
        for name in self.models:
            _check(bool(MODEL_NAME_PATTERN.match(name)), f"autoencoder.models: bad model name {name!r}")
        _check(self.sample_size >= 1, "autoencoder.sample_size must be positive")

    def training_for(self, demo: bool) -> TrainingSettings:
        """The training settings of a run: on the demo archive, ``min_steps`` capped by ``demo_min_steps``.

        The demo's few dozen training images need fewer steps than a real archive, and
        ``snakemake --cores all`` on the demo should finish in minutes.
        """
        if not demo:
            return self.training
        return self.training.replace(min_steps=min(self.training.min_steps, self.demo_min_steps))

    def trained_models(self) -> list[str]:
        """Models trained by the workflow (those without a configured checkpoint)."""
        return [name for name, model in self.models.items() if not model.checkpoint]


@dataclass(frozen=True)
class PcaSettings(Section):
    """The linear baseline: PCAs of the same images (config ``pca``; feature sets ``pca<k>``)."""

    components: tuple[int, ...] = (32,)

    def __post_init__(self) -> None:
        super().__post_init__()
        _check(all(k >= 1 for k in self.components), "pca.components must be positive numbers of components")
        _check(len(set(self.components)) == len(self.components), "pca.components must not repeat")

    def models(self) -> list[str]:
        """Model and feature-set names, ``pca<k>``."""
        return [f"pca{k}" for k in self.components]


# --------------------------------------------------------------------------- audio features


@dataclass(frozen=True)
class IndexSpectrogramSettings(Section):
    """``maad.sound.spectrogram`` arguments shared by all spectral indices."""

    window: str = "hann"
    nperseg: int = 1024
    noverlap: int | None = 512


@dataclass(frozen=True)
class IndexBandSettings(Section):
    """Frequency bands in Hz (scikit-maad defaults): anthropophony, biophony, high."""

    flim_low: tuple[float, ...] = (0, 1000)
    flim_mid: tuple[float, ...] = (1000, 10000)
    flim_hi: tuple[float, ...] = (10000, 20000)


@dataclass(frozen=True)
class TemporalIndexSettings(Section):
    """Keyword arguments of ``maad.features.all_temporal_alpha_indices`` (its defaults)."""

    mode: str = "fast"
    Nt: int = 512
    compatibility: str = "QUT"
    gain: float = 42
    Vadc: float = 2
    sensitivity: float = -35
    dBref: float = 94
    dt: float = 1
    dB_threshold: float = 3
    rejectDuration: float | None = 0.01


@dataclass(frozen=True)
class SpectralIndexSettings(Section):
    """Keyword arguments of ``maad.features.all_spectral_alpha_indices`` (its defaults)."""

    R_compatible: str = "soundecology"
    gain: float = 42
    Vadc: float = 2
    sensitivity: float = -35
    dBref: float = 94
    pRef: float = 2e-05
    dB_threshold: float = 3
    rejectDuration: float | None = None
    bin_step: float = 1000
    ADI_dB_threshold: float = -50
    AEI_dB_threshold: float = -50
    seed_level: float = 13
    low_level: float = 6
    fusion_rois: tuple[float, ...] | None = None
    remove_rois_flim_min: float | None = 50
    remove_rois_flim_max: float | None = None
    remove_rain: bool = True
    min_event_duration: float | None = 0.025
    max_event_duration: float | None = None
    min_freq_bw: float | None = 50
    max_freq_bw: float | None = None
    max_ratio_xy: float | None = 10


@dataclass(frozen=True)
class IndicesSettings(Section):
    """scikit-maad acoustic indices (config ``indices``; scikit-maad 1.5.2's own defaults)."""

    RUNTIME: ClassVar[tuple[str, ...]] = ("threads",)

    select: str | tuple[str, ...] = "all"
    spectrogram: IndexSpectrogramSettings = field(default_factory=IndexSpectrogramSettings)
    bands: IndexBandSettings = field(default_factory=IndexBandSettings)
    temporal: TemporalIndexSettings = field(default_factory=TemporalIndexSettings)
    spectral: SpectralIndexSettings = field(default_factory=SpectralIndexSettings)
    detrend: bool = True
    clip_level: float = 0.999
    silence_level: float = 0.001
    threads: int = 2

    def __post_init__(self) -> None:
        super().__post_init__()
        _check(
            self.select == "all" or (isinstance(self.select, tuple) and len(self.select) > 0),
            f"indices.select must be 'all' or a list of index names, not {self.select!r}",
        )


@dataclass(frozen=True)
class MfccSettings(Section):
    """librosa MFCCs summarised per segment (config ``mfcc``; librosa's defaults where it has one)."""

    RUNTIME: ClassVar[tuple[str, ...]] = ("threads",)

    n_mfcc: int = 20
    n_fft: int = 2048
    hop_length: int = 512
    n_mels: int = 128
    fmin: float = 0.0
    fmax: float | None = None
    deltas: bool = False
    delta_width: int = 9
    silence_level: float = 0.001
    threads: int = 2


@dataclass(frozen=True)
class BirdnetSettings(Section):
    """BirdNET V2.4 embeddings summarised per segment (config ``birdnet``; the optional extra ``[birdnet]``).

    ``enabled`` decides whether the set runs at all, never its values, so like ``threads``
    and ``batch_size`` it is left out of the canonical form.
    """

    RUNTIME: ClassVar[tuple[str, ...]] = ("enabled", "threads", "batch_size")
    WINDOW_SECONDS: ClassVar[float] = 3.0
    MAX_OVERLAP: ClassVar[float] = 2.9  # BirdNET-Analyzer's range

    enabled: bool = False
    overlap: float = 0.0
    silence_level: float = 0.001
    batch_size: int = 8
    threads: int = 2

    def __post_init__(self) -> None:
        super().__post_init__()
        _check(
            0 <= self.overlap <= self.MAX_OVERLAP,
            f"birdnet.overlap must be in [0, {self.MAX_OVERLAP:g}] seconds, not {self.overlap!r}",
        )
        _check(self.batch_size >= 1, f"birdnet.batch_size must be positive, not {self.batch_size!r}")


# --------------------------------------------------------------------------- evaluation


@dataclass(frozen=True)
class LabelTableSettings(Section):
    """One user label table (an entry of config ``evaluation.label_tables``)."""

    FORMATS: ClassVar[tuple[str, ...]] = ("auto", "table", "audacity", "raven")

    name: str = ""
    path: str = ""
    format: str = "auto"
    recording: str | None = None
    label_column: str | None = None
    absent_label: str | None = None
    min_overlap_seconds: float = 0.0

    def __post_init__(self) -> None:
        super().__post_init__()
        _check(bool(self.name) and bool(self.path), "a label table needs a name and a path")
        _one_of("label table format", self.format, self.FORMATS)


def _default_diel_periods() -> dict[str, tuple[int, ...]]:
    return {"dawn": (5, 8), "day": (8, 17), "dusk": (17, 20), "night": (20, 5)}


@dataclass(frozen=True)
class EvaluationSettings(Section):
    """The comparative evaluation (config ``evaluation``)."""

    RUNTIME: ClassVar[tuple[str, ...]] = ("threads",)
    TASKS: ClassVar[tuple[str, ...]] = ("site", "diel", "date")
    MODELS: ClassVar[tuple[str, ...]] = ("random_forest", "logistic")

    tasks: tuple[str, ...] = TASKS
    diel_periods: dict[str, tuple[int, ...]] = field(default_factory=_default_diel_periods)
    label_tables: tuple[LabelTableSettings, ...] = ()
    timescales: tuple[str, ...] = ("segment", "10min", "1h")
    models: tuple[str, ...] = MODELS
    summary_model: str = "random_forest"
    n_splits: int = 5
    random_forest_trees: int = 100
    random_forest_max_depth: int | None = None
    logistic_c: float = 1.0
    min_examples_per_class: int = 5
    min_groups_per_class: int = 2
    max_segments: int = 50000
    seed: int = 0
    projection_points: int = 3000
    umap: bool = True
    diel_indices: tuple[str, ...] = ("ACI", "NDSI", "H", "BI")
    timing_rules: dict[str, tuple[str, ...]] = field(default_factory=dict)
    threads: int = 2

    def __post_init__(self) -> None:
        super().__post_init__()
        for task in self.tasks:
            _one_of("evaluation.tasks entry", task, self.TASKS)
        for model in self.models:
            _one_of("evaluation.models entry", model, self.MODELS)
        _one_of("evaluation.summary_model", self.summary_model, self.MODELS)


# --------------------------------------------------------------------------- the whole config


@dataclass(frozen=True)
class Settings(Section):
    """The whole configuration: the archive, the results folder and one section per stage."""

    archive: str = ""
    results: str = "results"
    inventory: InventorySettings = field(default_factory=InventorySettings)
    segments: SegmentSettings = field(default_factory=SegmentSettings)
    jobs: JobSettings = field(default_factory=JobSettings)
    audio: AudioSettings = field(default_factory=AudioSettings)
    demo: DemoSettings = field(default_factory=DemoSettings)
    spectrogram: SpectrogramSettings = field(default_factory=SpectrogramSettings)
    autoencoder: AutoencoderSettings = field(default_factory=AutoencoderSettings)
    pca: PcaSettings = field(default_factory=PcaSettings)
    indices: IndicesSettings = field(default_factory=IndicesSettings)
    mfcc: MfccSettings = field(default_factory=MfccSettings)
    birdnet: BirdnetSettings = field(default_factory=BirdnetSettings)
    evaluation: EvaluationSettings = field(default_factory=EvaluationSettings)

    def __post_init__(self) -> None:
        super().__post_init__()
        top = self.spectrogram.fmax or self.audio.sample_rate / 2
        _check(
            0 <= self.spectrogram.fmin < top <= self.audio.sample_rate / 2,
            f"spectrogram: need 0 <= fmin < fmax <= {self.audio.sample_rate / 2} Hz (Nyquist of "
            f"audio.sample_rate), got fmin={self.spectrogram.fmin}, fmax={self.spectrogram.fmax}",
        )


def load_settings(config: Mapping[str, Any]) -> Settings:
    """Typed settings from a Snakemake ``config`` (missing keys take the class defaults).

    Raises
    ------
    SettingsError
        On an unknown key or an unusable value, naming it.
    """
    return Settings.from_mapping(config, "config")


# --------------------------------------------------------------------------- checking a workflow config

#: Sections with a schema file of their own, ``workflow/schemas/<section>.schema.yaml``;
#: every other key is in ``config.schema.yaml``.
SCHEMA_SECTIONS = ("spectrogram", "autoencoder", "indices", "mfcc", "birdnet", "evaluation")


def section_class(section: str) -> type[Section]:
    """The settings class of a dotted config section, e.g. ``"autoencoder.training"``.

    A section holding several entries (``"autoencoder.models"``, ``"evaluation.label_tables"``)
    gives the class of one entry.

    Raises
    ------
    KeyError
        When ``section`` is not a section of the config.
    """
    cls: type[Section] = Settings
    for name in section.split("."):
        hint = _hints(cls)[name]
        inner = [option for option in (hint, *typing.get_args(hint))
                 if isinstance(option, type) and issubclass(option, Section)]
        if not inner:
            raise KeyError(f"{section} is not a config section")
        cls = inner[0]
    return cls


def schema_file(section: str) -> str:
    """The schema that checks a dotted config section, relative to the repository."""
    top = section.split(".")[0]
    return f"workflow/schemas/{top if top in SCHEMA_SECTIONS else 'config'}.schema.yaml"


_NULL_WORDS = ("null", "~")
_BOOL_WORDS = {"true": True, "false": False}
_TYPE_WORDS = {int: "a whole number", float: "a number", bool: "true or false"}


def _options(hint: Any) -> tuple:
    """The types a field accepts: the members of a union, else the hint alone."""
    return typing.get_args(hint) if typing.get_origin(hint) in (typing.Union, types.UnionType) else (hint,)


def _from_text(text: str, hint: Any, where: str) -> Any:
    """A string as the scalar type a field declares (kept as a string where the field takes one)."""
    options = _options(hint)
    if type(None) in options and text.strip().lower() in _NULL_WORDS:
        return None
    scalars = [option for option in options if option in _TYPE_WORDS]
    for option in scalars:
        if option is bool:
            if text.strip().lower() in _BOOL_WORDS:
                return _BOOL_WORDS[text.strip().lower()]
            continue
        try:
            return option(text)
        except ValueError:
            continue
    if not scalars or str in options or Any in options:
        return text
    expected = " or ".join([_TYPE_WORDS[option] for option in scalars] + ["null"] * (type(None) in options))
    raise SettingsError(f"{where} must be {expected}, not {text!r}")


def _typed(value: Any, hint: Any, where: str) -> Any:
    """``value`` with its strings read as the declared types, recursively (lists stay lists)."""
    if isinstance(value, str):
        return _from_text(value, hint, where)
    for option in _options(hint):
        if isinstance(option, type) and issubclass(option, Section) and isinstance(value, Mapping):
            return _typed_section(value, option, where)
        origin, arguments = typing.get_origin(option), typing.get_args(option)
        if origin is dict and isinstance(value, Mapping):
            return {key: _typed(item, arguments[1], f"{where}.{key}") for key, item in value.items()}
        if origin is tuple and isinstance(value, (list, tuple)):
            return [_typed(item, arguments[0], f"{where}[{n}]") for n, item in enumerate(value)]
    return value


def _typed_section(values: Mapping[str, Any], cls: type[Section], where: str) -> dict[str, Any]:
    names = [f.name for f in dataclasses.fields(cls)]
    for key in values:
        if key not in names:
            raise SettingsError(f"unknown setting {where}.{key}{_did_you_mean(key, names)}")
    hints = _hints(cls)
    return {key: _typed(value, hints[key], f"{where}.{key}") for key, value in values.items()}


def typed_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """The workflow config with strings read as the types the settings declare.

    ``snakemake --config segments='{"segment_seconds": 30}'`` reads the value with
    YAML's base loader, so every value inside a nested override is a string
    (``'30'``). Here such strings become the numbers, booleans (``true``/``false``)
    and nulls (``null``) that the settings classes declare; a string where a field
    takes a string stays one. Plain YAML and JSON values pass unchanged.

    Raises
    ------
    SettingsError
        On an unknown key (with the closest known one) or a string that is not of the
        declared type, naming the key: ``config.segments.segment_seconds must be a
        number, not 'thirty'``.
    """
    return _typed_section(config, Settings, "config")


def _schema_path(names: typing.Iterable[Any]) -> str:
    return "".join(f"[{name}]" if isinstance(name, int) else f".{name}" for name in names)


def check_schemas(config: Mapping[str, Any], schema_dir: str | Path) -> None:
    """Check the config against ``workflow/schemas``; the first problem, in one line.

    Parameters
    ----------
    config : mapping
        The workflow config (see :func:`typed_config`).
    schema_dir : str or Path
        The folder of ``config.schema.yaml`` and one ``<section>.schema.yaml`` per
        entry of :data:`SCHEMA_SECTIONS`.

    Raises
    ------
    SettingsError
        Naming the key and what is wrong with it, e.g. ``config.segments.segment_seconds:
        0 is less than or equal to the minimum of 0`` (the schema itself is not printed).
    """
    import jsonschema
    import yaml

    checks = [("config", "config", config)]
    checks += [(f"config.{name}", name, config.get(name, {})) for name in SCHEMA_SECTIONS]
    for where, name, data in checks:
        schema = yaml.safe_load((Path(schema_dir) / f"{name}.schema.yaml").read_text())
        problem = jsonschema.exceptions.best_match(jsonschema.Draft202012Validator(schema).iter_errors(data))
        if problem is not None:
            raise SettingsError(f"{where}{_schema_path(problem.absolute_path)}: {problem.message}")

