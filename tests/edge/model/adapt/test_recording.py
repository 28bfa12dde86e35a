"""Adapting on a real recording (:mod:`edge.model.adapt.recording`): MIT-BIH record 100 with the
bundled two-output int8 model (LiteRT only), at its own rate and resampled."""
import numpy as np
import pytest
from scipy import signal

from edge.errors import AdaptError, ModelError
from edge.model.adapt import AdaptConfig, adapt_recording
from edge.model.bundled import default_model_path
from edge.model.classifier import BeatClassifier


def test_record_at_another_sample_rate_is_resampled(base, rec100):
    x, fs, idx, sym = rec100
    x250 = signal.resample_poly(x, 25, 36)
    idx250 = np.round(idx * 250.0 / fs).astype(np.int64)
    a = adapt_recording(base, x, fs, idx, sym, AdaptConfig(adapt_s=120.0)).head
    b = adapt_recording(base, x250, 250.0, idx250, sym, AdaptConfig(adapt_s=120.0)).head
    assert b.info["fs_in_hz"] == 250.0
    assert b.adapted == a.adapted and abs(b.counts["N"] - a.counts["N"]) <= 2


def test_no_labelled_beat_in_the_window_is_a_clear_error(base, rec100):
    x, fs, idx, sym = rec100
    with pytest.raises(AdaptError, match="no labelled beat in the first"):
        adapt_recording(base, x, fs, idx + int(400 * fs), sym, AdaptConfig(adapt_s=60.0))
    with pytest.raises(ModelError, match="no embedding output"):
        adapt_recording(BeatClassifier(default_model_path()), x, fs, idx, sym)
