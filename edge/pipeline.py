"""The device's beat pipeline: samples in, classified beats out.

``Preprocessor -> RPeakDetector -> BeatWindower -> BeatFeaturizer -> BeatClassifier``, every
stage streaming with explicit state. :class:`BeatPipeline` is what the daemon runs per device;
:func:`classify_at` classifies given beat positions of a whole signal (reference annotations)
through the same stages, as training does.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, replace

import numpy as np

from edge.dsp.beats import BeatWindower
from edge.dsp.detection import to_input_index
from edge.dsp.features import BeatFeaturizer
from edge.dsp.inputs import beat_inputs_at
from edge.dsp.preprocess import PreprocessConfig, Preprocessor
from edge.dsp.rpeak import DetectorConfig, RPeakDetector
from edge.errors import SignalError
from edge.model.classifier import BeatClassifier

__all__ = ["ClassifiedBeats", "BeatPipeline", "classify_at"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ClassifiedBeats:
    """Beats released by the pipeline.

    ``sample_index``: input-rate sample index of each R peak; ``processing_index``: the same at
    the processing rate; ``label``: AAMI class; ``proba``: (n, 5) class probabilities;
    ``rr_s``: (n, 4) RR features in seconds (pre, post, local, long).
    """

    sample_index: np.ndarray
    processing_index: np.ndarray
    label: np.ndarray
    proba: np.ndarray
    rr_s: np.ndarray

    def __len__(self) -> int:
        return int(self.sample_index.size)

    @staticmethod
    def concatenate(parts: list["ClassifiedBeats"]) -> "ClassifiedBeats":
        keys = ("sample_index", "processing_index", "label", "proba", "rr_s")
        return ClassifiedBeats(**{k: np.concatenate([getattr(p, k) for p in parts])
                                  for k in keys})


class BeatPipeline:
    """Streaming classification of one ECG channel of one device.

    Parameters
    ----------
    classifier : a loaded :class:`BeatClassifier` (its contract fixes windows and features).
    fs_in_hz : the device's sample rate.
    preprocess, detector : optional overrides (the processing rate must stay the model's).
    """

    def __init__(self, classifier: BeatClassifier, fs_in_hz: float, *,
                 preprocess: PreprocessConfig | None = None,
                 detector: DetectorConfig | None = None) -> None:
        self.classifier = classifier
        self.fs_in_hz = float(fs_in_hz)
        pcfg = preprocess or PreprocessConfig(fs_in_hz=fs_in_hz, filter=classifier.filters)
        if pcfg.fs_in_hz != fs_in_hz:
            pcfg = replace(pcfg, fs_in_hz=fs_in_hz)
        self.preprocessor = Preprocessor(pcfg)
        self.detector = RPeakDetector(detector or DetectorConfig(fs_hz=pcfg.fs_out_hz))
        if self.detector.n_align != classifier.window.align_samples:
            raise SignalError(f"detector alignment {self.detector.n_align} samples differs from "
                              f"the model's window alignment {classifier.window.align_samples}")
        self.windower = BeatWindower(classifier.window)
        self.featurizer = BeatFeaturizer(classifier.feature_config)
        self.n_beats = 0

    def reset(self) -> None:
        for stage in (self.preprocessor, self.detector, self.windower, self.featurizer):
            stage.reset()

    def _classify(self, batch) -> ClassifiedBeats:
        if len(batch) == 0:
            return ClassifiedBeats(np.zeros(0, np.int64), np.zeros(0, np.int64),
                                   np.zeros(0, object), np.zeros((0, 5), np.float32),
                                   np.zeros((0, 4), np.float32))
        beat, feats = self.featurizer.process(batch.windows, batch.rr_s)
        proba = self.classifier.predict_proba(beat, feats)
        labels = np.asarray(self.classifier.classes, dtype=object)[proba.argmax(axis=1)]
        self.n_beats += len(batch)
        return ClassifiedBeats(to_input_index(batch.sample_index, self.fs_in_hz,
                                              self.preprocessor.config.fs_out_hz),
                               batch.sample_index, labels, proba, batch.rr_s)

    def process(self, x_mv: np.ndarray) -> ClassifiedBeats:
        """Feed one chunk of samples (1-D, mV, device rate); returns the beats released."""
        cond = self.preprocessor.process(x_mv)
        peaks = self.detector.process(cond)
        return self._classify(self.windower.process(cond.filtered_mv, peaks))

    def flush(self) -> ClassifiedBeats:
        """End of stream: release every remaining beat."""
        cond = self.preprocessor.flush()
        peaks = [self.detector.process(cond), self.detector.flush()]
        parts = [self._classify(self.windower.process(cond.filtered_mv, np.concatenate(peaks))),
                 self._classify(self.windower.flush())]
        return ClassifiedBeats.concatenate(parts)

    def run(self, x_mv: np.ndarray, chunk_samples: int | None = None) -> ClassifiedBeats:
        """Stream a whole signal through the pipeline (chunk by chunk) and flush."""
        x = np.asarray(x_mv, dtype=np.float64)
        step = chunk_samples or max(1, int(self.fs_in_hz))
        parts = [self.process(x[i:i + step]) for i in range(0, x.size, step)]
        parts.append(self.flush())
        out = ClassifiedBeats.concatenate(parts)
        keep = (out.sample_index >= 0) & (out.sample_index < x.size)
        return ClassifiedBeats(*(getattr(out, k)[keep] for k in
                                 ("sample_index", "processing_index", "label", "proba", "rr_s")))


def classify_at(classifier: BeatClassifier, x_mv: np.ndarray, fs_in_hz: float,
                beats_in: np.ndarray) -> ClassifiedBeats:
    """Classify beats at given input-rate positions (e.g. reference annotations) of a whole
    signal, with the same conditioning, windows and features as the streaming pipeline
    (:func:`edge.dsp.inputs.beat_inputs_at`)."""
    inp = beat_inputs_at(x_mv, fs_in_hz, beats_in, window=classifier.window,
                         features=classifier.feature_config, filter_config=classifier.filters)
    if len(inp) == 0:
        return ClassifiedBeats(inp.sample_index, inp.processing_index, np.zeros(0, object),
                               np.zeros((0, 5), np.float32), inp.rr_s)
    proba = classifier.predict_proba(inp.beat, inp.features)
    labels = np.asarray(classifier.classes, dtype=object)[proba.argmax(axis=1)]
    return ClassifiedBeats(inp.sample_index, inp.processing_index, labels, proba, inp.rr_s)
