"""ecoae: auto-encoder, acoustic-index and MFCC features from passive acoustic monitoring archives."""

__version__ = "0.1.0"
