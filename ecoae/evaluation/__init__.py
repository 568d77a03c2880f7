"""Comparative evaluation of the feature stores.

Modules, one job each:

- :mod:`~ecoae.evaluation.stores` reads the segment store and every feature store
  lazily with dask, joined per partition on the shared segment key;
- :mod:`~ecoae.evaluation.labels` derives the classification tasks (site, diel
  period, date) and imports user label tables (CSV, Audacity, Raven);
- :mod:`~ecoae.evaluation.aggregate` builds the longer timescales (window mean
  and standard deviation) partition by partition;
- :mod:`~ecoae.evaluation.splits` makes grouped cross-validation folds shared by
  every feature set;
- :mod:`~ecoae.evaluation.classify` fits the classifiers and scores them;
- :mod:`~ecoae.evaluation.timings` turns Snakemake benchmark records into
  seconds of compute per minute of audio;
- :mod:`~ecoae.evaluation.overview` describes the archive itself (recordings per
  site and day, time sources, quarantined files, segments left out);
- :mod:`~ecoae.evaluation.summary`, :mod:`~ecoae.evaluation.figures` and
  :mod:`~ecoae.evaluation.report` write the text, figures and HTML report;
- :mod:`~ecoae.evaluation.run` ties them together (``ecoae evaluate``).
"""
