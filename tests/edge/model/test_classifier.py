"""The shipped int8 model on the device path (LiteRT, no TensorFlow)."""
import numpy as np
import pytest

from edge.aami import AAMI_MAP
from edge.cli.main import main
from edge.dsp.beats import WindowConfig
from edge.errors import ContractError
from edge.eval.scoring import class_metrics, confusion_matrix
from edge.io.records import read_record
from edge.model.bundled import default_model_path
from edge.model.classifier import BeatClassifier
from edge.pipeline import BeatPipeline, classify_at

MODEL = default_model_path()


@pytest.fixture(scope="module")
def clf():
    if not MODEL.is_file():
        pytest.fail(f"the bundled model {MODEL} is missing")
    return BeatClassifier(MODEL)


def test_bundled_model_is_full_int8_small_and_contracted(clf):
    assert clf.quantized
    assert clf.size_bytes <= 64 * 1024
    assert clf.classes == ("N", "S", "V", "F", "Q")
    c = clf.contract
    assert c["sample_rate_hz"] == 360.0 and c["window"]["length"] == 252
    assert "DS1" in str(c["training"]) or "101" in c["training"]["records"]
    assert "quantization" in c


def test_pipeline_settings_must_match(clf):
    with pytest.raises(ContractError, match="window.after_ms"):
        BeatClassifier(MODEL, window=WindowConfig(after_ms=400.0))




# 200 has many V beats, 232 most of DS2's S beats; the floors sit below what the bundled model
# scores there (benchmarks/results/annotate.json).
@pytest.mark.parametrize("record", ["200", "232"])
def test_accuracy_floor_at_reference_beats(clf, mitdb_dir, record):
    from edge.io.records import read_annotations

    rec = read_record(record, channels=[0], data_dir=mitdb_dir)
    ann = read_annotations(record, data_dir=mitdb_dir)
    keep = np.isin(ann.symbol, list(AAMI_MAP))
    truth = [AAMI_MAP[s] for s in ann.symbol[keep]]
    beats = classify_at(clf, rec.signal_mv[:, 0], rec.fs_hz, ann.sample_index[keep])
    m = class_metrics(confusion_matrix(truth, beats.label))
    assert m["accuracy"] >= 0.90, m
    key = "V" if record == "200" else "S"
    assert m["per_class"][key]["f1"] >= 0.85, m["per_class"][key]


def test_streaming_pipeline_equals_reference_mode_at_detected_beats(clf, mitdb_dir, rng):
    x = read_record("200", channels=[0], sampto=360 * 90, data_dir=mitdb_dir).signal_mv[:, 0]
    whole = BeatPipeline(clf, 360.0).run(x, chunk_samples=x.size)
    for step in (7, int(rng.integers(20, 900))):
        part = BeatPipeline(clf, 360.0).run(x, chunk_samples=step)
        np.testing.assert_array_equal(part.sample_index, whole.sample_index)
        np.testing.assert_array_equal(part.proba, whole.proba)
    ref_mode = classify_at(clf, x, 360.0, whole.sample_index)
    np.testing.assert_array_equal(ref_mode.label, whole.label)


def test_annotate_writes_aami_symbols(mitdb_dir, tmp_path, capsys):
    import wfdb

    for extra in ([], ["--reference-beats", "atr"]):
        assert main(["annotate", "100", "--data-dir", str(mitdb_dir), "--out-dir",
                     str(tmp_path), "--ext", "cls", *extra]) == 0
        ann = wfdb.rdann(str(tmp_path / "100"), "cls")
        assert set(ann.symbol) <= set("NSVFQ") and 2250 <= len(ann.sample) <= 2290
    assert "beats classified" in capsys.readouterr().out
