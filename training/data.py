"""MIT-BIH Arrhythmia Database: AAMI EC57 classes and the de Chazal inter-patient split.

Evaluation is inter-patient: models train on DS1 and are judged on DS2, whose patients they
never see. The four paced records are excluded, as AAMI EC57 recommends.

Other databases join training under a prefixed record name, ``"<database>/<record>"`` (e.g.
``"svdb/804"``: the MIT-BIH Supraventricular Arrhythmia Database, 128 Hz, read from
``$SVDB_DIR``); a bare name is a MIT-BIH record. :data:`SVDB_FOLDS` cuts the SVDB records at
hand into three patient folds for record-wise cross-validation.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from edge.aami import aami_class, aami_classes
from edge.errors import ConfigError
from edge.io.records import RECORD_SUFFIXES, read_annotations

__all__ = ["DS1", "DS2", "PACED", "ALL_RECORDS", "FOLDS", "SVDB_FOLDS", "SVDB", "aami_class",
           "BeatLabels", "reference_beats", "aami_beats", "split_record", "is_ds2"]

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

#: The 39 SVDB records of ``$SVDB_DIR`` cut into three patient folds balanced for S and V beats
#: (record 865 alone holds 1,818 of the 7,283 S beats); each as ``svdb/<record>``. A patient
#: is never in its own training fold (:func:`training.train.train_ensemble`).
SVDB_FOLDS = tuple(tuple(f"svdb/{r}" for r in fold) for fold in (
    ("824", "825", "828", "843", "850", "852", "854", "856", "867", "868", "870", "874", "877"),
    ("804", "812", "822", "841", "842", "845", "851", "855", "861", "863", "880", "888", "894"),
    ("807", "810", "826", "827", "848", "849", "862", "865", "866", "875", "878", "884", "887")))
#: All SVDB records of :data:`SVDB_FOLDS`.
SVDB = tuple(r for f in SVDB_FOLDS for r in f)


def split_record(name: str) -> tuple[str, str]:
    """``"svdb/804"`` -> ``("svdb", "804")``; a bare name is MIT-BIH: ``("mitdb", name)``.
    The database is read in lower case and a file suffix is dropped (``"MITDB/100.hea"`` is
    ``("mitdb", "100")``), as the record reader takes them: one record, one name, so the
    DS2 refusal cannot be passed by spelling a name another way."""
    text = str(name).strip()
    db, rec = text.split("/", 1) if "/" in text else ("mitdb", text)
    if not db or not rec or "/" in rec:
        raise ConfigError("records", f"record {text!r}: expected <database>/<record>")
    if rec.lower().endswith(RECORD_SUFFIXES):  # a file's name: the record is its stem
        rec = rec.rsplit(".", 1)[0] or rec
    return db.lower(), rec


def is_ds2(name: str) -> bool:
    """True for a MIT-BIH DS2 record, bare (``"232"``) or prefixed (``"mitdb/232"``)."""
    db, rec = split_record(name)
    return db == "mitdb" and rec in DS2


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
    """All AAMI beat annotations of a record (``"svdb/804"`` reads ``svdb``; ``data_dir`` is
    then ignored: it names the MIT-BIH directory, the other database comes from its
    ``$<DATABASE>_DIR``)."""
    db, rec = split_record(record)
    if db != "mitdb":
        database, data_dir = db, None
    return aami_beats(read_annotations(rec, extension, database=database,
                                       data_dir=data_dir), record)


def aami_beats(ann, record: str = "") -> BeatLabels:
    """The AAMI beat annotations of annotations already read (:func:`edge.io.records.
    read_annotations`); non-beat annotations are dropped."""
    cls = aami_classes(ann.symbol)
    keep = np.array([c is not None for c in cls], dtype=bool)
    return BeatLabels(str(record), ann.sample_index[keep], cls[keep], ann.symbol[keep],
                      ann.fs_hz)
