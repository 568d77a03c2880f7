"""ecoae: auto-encoder, acoustic-index and MFCC features from passive acoustic monitoring archives.

``ecoae.open_features(results, sets)`` opens every feature store of a results folder as
one lazy table (see :mod:`ecoae.joined`); it is imported on first use, so the command
line starts without dask.
"""

__version__ = "0.1.0"


def __getattr__(name: str):
    if name == "open_features":
        from ecoae.joined import open_features

        return open_features
    raise AttributeError(f"module 'ecoae' has no attribute {name!r}")
