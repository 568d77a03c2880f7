"""Classifiers and their cross-validated scores for one feature set and task.

Two models: a random forest, and a logistic regression on standardised
features (the linear baseline). Missing values (e.g. an index undefined on
silence) are imputed with the training fold's median inside the pipeline, so
no test information leaks into training.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass

import numpy as np
from sklearn.base import clone
from sklearn.dummy import DummyClassifier
from sklearn.ensemble import RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import balanced_accuracy_score, f1_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

MODELS = ("random_forest", "logistic")


def make_model(name: str, threads: int = 1, trees: int = 200, max_depth: int | None = None,
               logistic_c: float = 1.0, seed: int = 0):
    """Return an unfitted scikit-learn pipeline for model ``name``.

    Parameters
    ----------
    name : {"random_forest", "logistic"}
    threads : int
        Jobs of the random forest.
    trees, max_depth : int
        Random forest size.
    logistic_c : float
        Inverse L2 regularisation strength of the logistic regression.
    seed : int
    """
    imputer = SimpleImputer(strategy="median", keep_empty_features=True)
    if name == "random_forest":
        forest = RandomForestClassifier(
            n_estimators=trees, max_depth=max_depth, n_jobs=threads, random_state=seed, class_weight="balanced"
        )
        return make_pipeline(imputer, forest)
    if name == "logistic":
        logistic = LogisticRegression(C=logistic_c, max_iter=2000, class_weight="balanced")
        return make_pipeline(imputer, StandardScaler(), logistic)
    raise ValueError(f"unknown model {name!r}; choose from {MODELS}")


def prepare_features(values: np.ndarray) -> np.ndarray:
    """Return float64 features with non-finite values as NaN (imputed later)."""
    values = np.asarray(values, dtype=np.float64).copy()
    values[~np.isfinite(values)] = np.nan
    return values


@dataclass
class CrossValidation:
    """Scores of one model on one feature set over shared folds.

    Attributes
    ----------
    balanced_accuracy, f1_macro : ndarray
        One value per fold.
    predictions : ndarray
        Out-of-fold prediction of every example.
    fit_seconds : float
        Wall-clock time of all fits and predictions.
    """

    balanced_accuracy: np.ndarray
    f1_macro: np.ndarray
    predictions: np.ndarray
    fit_seconds: float


def cross_validate(model, features: np.ndarray, labels: np.ndarray,
                   folds: list[tuple[np.ndarray, np.ndarray]]) -> CrossValidation:
    """Fit ``model`` on each fold's training side and score its test side.

    A training side with a single class gets a constant predictor (scored honestly).

    Parameters
    ----------
    model : scikit-learn estimator
    features : ndarray, shape (n, d)
    labels : ndarray, shape (n,)
    folds : list of (train indices, test indices)

    Returns
    -------
    CrossValidation
    """
    features = prepare_features(features)
    labels = np.asarray(labels).astype(str)
    predictions = np.empty(len(labels), dtype=object)
    accuracy, f1 = [], []
    started = time.perf_counter()
    for train, test in folds:
        fitted = clone(model) if len(np.unique(labels[train])) > 1 else DummyClassifier(strategy="most_frequent")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fitted.fit(features[train], labels[train])
            predicted = fitted.predict(features[test])
            accuracy.append(balanced_accuracy_score(labels[test], predicted))
            f1.append(f1_score(labels[test], predicted, labels=np.unique(labels[test]), average="macro", zero_division=0))
        predictions[test] = predicted
    return CrossValidation(np.array(accuracy), np.array(f1), predictions.astype(str), time.perf_counter() - started)
