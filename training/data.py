"""MIT-BIH Arrhythmia Database: AAMI EC57 classes and the de Chazal inter-patient split.

Evaluation is inter-patient: models train on DS1 and are judged on DS2, whose patients they
never see. The four paced records are excluded, as AAMI EC57 recommends.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from edge.aami import aami_class, aami_classes
from edge.io.records import read_annotations

__all__ = ["DS1", "DS2", "PACED", "ALL_RECORDS", "FOLDS", "aami_class",
           "BeatLabels", "reference_beats", "aami_beats"]

#: de Chazal et al. 2004 training set (22 records).
DS1 = ("101", "106", "108", "109", "112", "114", "115", "116", "118", "119", "122", "124",
       "201", "203", "205", "207", "208", "209", "215", "220", "223", "230")
#: de Chazal et al. 2004 test set (22 records).
DS2 = ("100", "103", "105", "111", "113", "117", "121", "123", "200", "202", "210", "212",
       "213", "214", "219", "221", "222", "228", "231", "232", "233", "234")
#: Paced records, excluded from DS1 and DS2.
PACED = ("102", "104", "107", "217")
#: All 48 records of the database.
ALL_RECORDS = tuple(sorted(DS1 + DS2 + PACED))
#: DS1 cut into three patient folds balanced for S and V beats (each holds SVEB- and VEB-rich
#: patients); used by cross-validation and by the fold ensemble of training.
FOLDS = (("209", "106", "115", "122", "108", "119", "230"),
         ("201", "118", "220", "112", "203", "114", "116", "101"),
         ("207", "223", "124", "205", "208", "215", "109"))


@dataclass(frozen=True)
class BeatLabels:
    """Reference beats of a record: positions (input samples) and AAMI classes."""

    record: str
    sample_index: np.ndarray  # int64
    aami: np.ndarray  # str (object)
    symbol: np.ndarray  # original MIT-BIH symbols
    fs_hz: float


def reference_beats(record: str, *, extension: str = "atr", database: str = "mitdb",
                    data_dir: str | os.PathLike | None = None) -> BeatLabels:
    """All AAMI beat annotations of a record."""
    return aami_beats(read_annotations(record, extension, database=database,
                                       data_dir=data_dir), record)


def aami_beats(ann, record: str = "") -> BeatLabels:
    """The AAMI beat annotations of annotations already read (:func:`edge.io.records.
    read_annotations`); non-beat annotations are dropped."""
    cls = aami_classes(ann.symbol)
    keep = np.array([c is not None for c in cls], dtype=bool)
    return BeatLabels(str(record), ann.sample_index[keep], cls[keep], ann.symbol[keep],
                      ann.fs_hz)
