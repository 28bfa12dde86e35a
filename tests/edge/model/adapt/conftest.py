"""Fixtures of the adaptation tests on the real model: the bundled two-output int8 model and
the first 8 minutes of MIT-BIH record 100."""
import pytest

from edge.io.records import read_annotations, read_record
from edge.model.bundled import default_embed_model_path
from edge.model.classifier import BeatClassifier


@pytest.fixture(scope="package")
def base():
    return BeatClassifier(default_embed_model_path())


@pytest.fixture(scope="package")
def rec100(mitdb_dir):
    rec = read_record("100", data_dir=mitdb_dir)
    ann = read_annotations("100", data_dir=mitdb_dir)
    n = int(8 * 60 * rec.fs_hz)  # 8 minutes keep the test quick
    keep = ann.sample_index < n
    return rec.signal_mv[:n, 0], rec.fs_hz, ann.sample_index[keep], ann.symbol[keep]
