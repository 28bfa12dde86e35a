"""training.data: AAMI EC57 class map and the de Chazal DS1/DS2 split."""
from __future__ import annotations

import numpy as np

from training.data import (
    ALL_RECORDS,
    DS1,
    DS2,
    PACED,
    reference_beats,
)


def test_split_is_22_plus_22_disjoint_without_paced_records():
    assert len(DS1) == len(set(DS1)) == 22
    assert len(DS2) == len(set(DS2)) == 22
    assert not set(DS1) & set(DS2)
    assert not (set(DS1) | set(DS2)) & set(PACED)
    assert set(PACED) == {"102", "104", "107", "217"}
    assert len(ALL_RECORDS) == 48


def test_reference_beats_of_record_100(mitdb_dir):
    ref = reference_beats("100", data_dir=mitdb_dir)
    assert ref.sample_index.size == 2273
    assert np.all(np.diff(ref.sample_index) > 0)
    assert (ref.aami == "S").sum() == 33 and (ref.aami == "V").sum() == 1


def test_folds_partition_ds1_and_are_shared_by_crossval_and_train():
    """FOLDS lives in training.data (no train <-> crossval import cycle); each DS1 patient is
    in exactly one fold and no DS2 patient in any."""
    import training.crossval
    import training.train
    from training.data import FOLDS

    flat = [r for fold in FOLDS for r in fold]
    assert len(FOLDS) == 3
    assert sorted(flat) == sorted(DS1)
    assert training.crossval.FOLDS is FOLDS and training.train.FOLDS is FOLDS
