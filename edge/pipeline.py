"""The device's beat pipeline: samples in, classified beats out.

``Preprocessor -> RPeakDetector -> BeatWindower -> BeatFeaturizer -> BeatClassifier``, every
stage streaming with explicit state. :class:`BeatPipeline` is what the daemon runs per device;
:func:`classify_at` classifies given beat positions of a whole signal (reference annotations)
through the same stages, as training does.

Timing: a :class:`BeatPipeline` given ``on_stage`` calls it with each stage's name
(:data:`STAGES`) and its ``time.perf_counter`` seconds, once per call of the stage (the
featurizer and the classifier run only when beats are released).

Invalid samples (lost, flat, saturated; see :mod:`edge.dsp.preprocess`): an RR interval that
spans them is unknown and replaced by the local mean before the features (a gap must not make
the beat before it look like a premature beat followed by a pause, nor the beats after it
premature); a beat whose window touches them is labelled ``Q`` (unclassifiable, the AAMI
class for beats that cannot be classified) -- the model's probabilities are kept for
inspection -- and stays out of the running template. ``ClassifiedBeats.window_invalid`` and
``rr_unknown`` say which beats were concerned, so callers can flag them.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from edge.aami import AAMI_CLASSES
from edge.dsp.beats import BeatBatch, BeatWindower, InvalidFlags
from edge.dsp.detection import to_input_index
from edge.dsp.features import BeatFeaturizer
from edge.dsp.inputs import beat_inputs_at
from edge.dsp.preprocess import Conditioned, PreprocessConfig, Preprocessor
from edge.dsp.rpeak import DetectorConfig, RPeakDetector
from edge.errors import ConfigError, SignalError
from edge.model.classifier import BeatClassifier

__all__ = ["ClassifiedBeats", "BeatPipeline", "classify_at", "StageHook", "STAGES",
           "UNCLASSIFIABLE"]

logger = logging.getLogger(__name__)

#: Called with a stage name and the seconds it took (``time.perf_counter``).
StageHook = Callable[[str, float], None]

#: Stage names passed to a :data:`StageHook`, in pipeline order.
STAGES = ("preprocess", "detect", "window", "featurize", "classify")

#: The label of a beat whose window touches invalid samples (AAMI "unclassifiable").
UNCLASSIFIABLE = AAMI_CLASSES[-1]

_KEYS = ("sample_index", "processing_index", "label", "proba", "rr_s", "window_invalid",
         "rr_unknown")


@dataclass(frozen=True)
class ClassifiedBeats(InvalidFlags):
    """Beats released by the pipeline.

    ``sample_index``: input-rate sample index of each R peak; ``processing_index``: the same at
    the processing rate; ``label``: AAMI class (``Q`` where ``window_invalid``); ``proba``:
    (n, 5) the model's class probabilities; ``rr_s``: (n, 4) RR features in seconds (pre,
    post, local, long; unknown intervals replaced); ``window_invalid``: bool (n,), the beat's
    window touches invalid samples; ``rr_unknown``: bool (n, 2), its pre / post interval spans
    invalid samples (both all False when omitted).
    """

    sample_index: np.ndarray
    processing_index: np.ndarray
    label: np.ndarray
    proba: np.ndarray
    rr_s: np.ndarray
    window_invalid: np.ndarray | None = None
    rr_unknown: np.ndarray | None = None

    def __len__(self) -> int:
        return int(self.sample_index.size)

    def select(self, keep: np.ndarray) -> "ClassifiedBeats":
        """The beats where ``keep`` (a bool mask or indices) selects."""
        return ClassifiedBeats(*(getattr(self, k)[keep] for k in _KEYS))

    @staticmethod
    def concatenate(parts: list["ClassifiedBeats"]) -> "ClassifiedBeats":
        return ClassifiedBeats(**{k: np.concatenate([getattr(p, k) for p in parts])
                                  for k in _KEYS})


def _labels(classes, proba: np.ndarray, window_invalid: np.ndarray) -> np.ndarray:
    labels = np.asarray(classes, dtype=object)[proba.argmax(axis=1)]
    if window_invalid.any():
        labels[window_invalid] = UNCLASSIFIABLE
    return labels


class BeatPipeline:
    """Streaming classification of one ECG channel of one device.

    Parameters
    ----------
    classifier : a loaded :class:`BeatClassifier` (its contract fixes windows and features).
    fs_in_hz : the device's sample rate.
    preprocess, detector : optional overrides (the processing rate must stay the model's).
    on_stage : optional :data:`StageHook`, called after every stage with its name and seconds.
    flutter_beats : classify the beats the detector accepts in a stretch it takes for
        ventricular flutter too (:attr:`~edge.dsp.rpeak.RPeakDetector.flutter_peaks`: a
        wide-complex tachycardia has no baseline either, and its beats are real); ``False``
        drops them, as the detector did before 2026-12-01.

    Attributes
    ----------
    conditioned : the conditioned samples of the last :meth:`process` / :meth:`flush` call
        (processing rate; for consumers such as the ECG strip).
    detected : the conditioned samples the detector took in that call: :attr:`conditioned`,
        preceded by those of the calls that held detection back (``detect=False``); empty
        when this call held it back (for consumers that must see the samples with their
        beats, such as the VF detector).
    peaks, peaks_decided_at : the R peaks the detector returned in that call (processing
        rate) and when each was decided (:attr:`edge.dsp.rpeak.RPeakDetector.decided_at`;
        for the VF detector's organised-rhythm veto: without the flutter beats).
    """

    def __init__(self, classifier: BeatClassifier, fs_in_hz: float, *,
                 preprocess: PreprocessConfig | None = None,
                 detector: DetectorConfig | None = None,
                 on_stage: StageHook | None = None, flutter_beats: bool = True) -> None:
        self.classifier = classifier
        self.flutter_beats = bool(flutter_beats)
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
        self.on_stage = on_stage
        self.n_beats = 0
        # size 0 (nothing in it can change): shared by the calls that release no beat
        self._no_beats = ClassifiedBeats(np.zeros(0, np.int64), np.zeros(0, np.int64),
                                         np.zeros(0, object), np.zeros((0, 5), np.float32),
                                         np.zeros((0, 4), np.float32))
        self.conditioned = self.detected = Conditioned(0, np.zeros(0), np.zeros(0, dtype=bool))
        self.peaks = self.peaks_decided_at = np.zeros(0, dtype=np.int64)
        self._held: list[Conditioned] = []  # conditioned, not yet detected (detect=False)

    def reset(self) -> None:
        for stage in (self.preprocessor, self.detector, self.windower, self.featurizer):
            stage.reset()
        self.peaks = self.peaks_decided_at = np.zeros(0, dtype=np.int64)
        self._held = []

    @property
    def held_samples(self) -> int:
        """Conditioned samples waiting for the detector (``process(..., detect=False)``)."""
        return sum(len(c) for c in self._held)

    def _with_held(self, cond: Conditioned) -> Conditioned:
        """``cond`` preceded by the held conditioned samples (one chunk; the hold emptied)."""
        if not self._held:
            return cond
        parts, self._held = [*self._held, cond], []
        return Conditioned(parts[0].sample_index,
                           np.concatenate([c.filtered_mv for c in parts]),
                           np.concatenate([c.valid for c in parts]))

    def _with_flutter(self, peaks: np.ndarray) -> np.ndarray:
        """The beats the windower takes: the detector's, with its flutter beats when
        :attr:`flutter_beats` (in time order)."""
        extra = self.detector.flutter_peaks
        if not self.flutter_beats or extra.size == 0:
            return peaks
        return np.sort(np.concatenate([peaks, extra]))

    def _timed(self, stage: str, t0: float) -> float:
        t1 = time.perf_counter()
        if self.on_stage is not None:
            self.on_stage(stage, t1 - t0)
        return t1

    def _classify(self, batch: BeatBatch) -> ClassifiedBeats:
        if len(batch) == 0:
            return self._no_beats
        t0 = time.perf_counter()
        beat, feats = self.featurizer.process(batch.windows, batch.rr_s,
                                              batch.window_invalid)
        t0 = self._timed("featurize", t0)
        proba = self.classifier.predict_proba(beat, feats)
        self._timed("classify", t0)
        labels = _labels(self.classifier.classes, proba, batch.window_invalid)
        self.n_beats += len(batch)
        return ClassifiedBeats(to_input_index(batch.sample_index, self.fs_in_hz,
                                              self.preprocessor.config.fs_out_hz),
                               batch.sample_index, labels, proba, batch.rr_s,
                               batch.window_invalid, batch.rr_unknown)

    def process(self, x_mv: np.ndarray, *, detect: bool = True,
                bridge_mv: np.ndarray | None = None) -> ClassifiedBeats:
        """Feed one chunk of samples (1-D, mV, device rate); returns the beats released.
        ``bridge_mv``: :meth:`edge.dsp.preprocess.Preprocessor.process`'s.

        ``detect=False``: condition the samples only (:attr:`conditioned`) and hold them for
        the detector, which takes them with the next call that detects (the detector and
        windower are chunk-invariant, so the beats are the same; a caller holds detection
        back only where no beat can be released, as
        :meth:`edge.runtime.device.DeviceStream.next_detection_index` knows)."""
        t0 = time.perf_counter()
        cond = self.conditioned = self.preprocessor.process(x_mv, bridge_mv=bridge_mv)
        t0 = self._timed("preprocess", t0)
        if not detect:
            if len(cond):
                self._held.append(cond)
            self.detected = Conditioned(cond.sample_index, cond.filtered_mv[:0], cond.valid[:0])
            self.peaks = self.peaks_decided_at = np.zeros(0, dtype=np.int64)
            return self._no_beats
        cond = self.detected = self._with_held(cond)
        peaks = self.peaks = self.detector.process(cond)
        self.peaks_decided_at = self.detector.decided_at
        peaks = self._with_flutter(peaks)
        t0 = self._timed("detect", t0)
        batch = self.windower.process(cond.filtered_mv, peaks, cond.valid)
        self._timed("window", t0)
        return self._classify(batch)

    def flush(self) -> ClassifiedBeats:
        """End of stream: release every remaining beat."""
        t0 = time.perf_counter()
        cond = self.conditioned = self.preprocessor.flush()
        t0 = self._timed("preprocess", t0)
        cond = self.detected = self._with_held(cond)
        peaks = self.peaks = self.detector.finish(cond)
        self.peaks_decided_at = self.detector.decided_at
        peaks = self._with_flutter(peaks)
        t0 = self._timed("detect", t0)
        batches = [self.windower.process(cond.filtered_mv, peaks, cond.valid),
                   self.windower.flush()]
        self._timed("window", t0)
        return ClassifiedBeats.concatenate([self._classify(b) for b in batches])

    def run(self, x_mv: np.ndarray, chunk_samples: int | None = None, *,
            on_chunk: Callable[[Conditioned], None] | None = None) -> ClassifiedBeats:
        """Stream a whole signal through the pipeline, ``chunk_samples`` at a time (default:
        one second), and flush. ``on_chunk``, if given, gets each call's conditioned samples
        (:attr:`conditioned`, the flush's included), as a daemon stage downstream would.

        Raises
        ------
        ConfigError
            When ``chunk_samples`` is not an integer >= 1 (or None).
        """
        if chunk_samples is not None and not (isinstance(chunk_samples, (int, np.integer))
                                              and chunk_samples >= 1):
            raise ConfigError("chunk_samples", f"must be an integer >= 1, got {chunk_samples!r}")
        x = np.asarray(x_mv, dtype=np.float64)
        step = chunk_samples or max(1, int(self.fs_in_hz))
        parts = []
        for i in [*range(0, x.size, step), None]:  # None: the flush
            parts.append(self.process(x[i:i + step]) if i is not None else self.flush())
            if on_chunk is not None:
                on_chunk(self.conditioned)
        out = ClassifiedBeats.concatenate(parts)
        return out.select((out.sample_index >= 0) & (out.sample_index < x.size))


def classify_at(classifier: BeatClassifier, x_mv: np.ndarray, fs_in_hz: float,
                beats_in: np.ndarray) -> ClassifiedBeats:
    """Classify beats at given input-rate positions (e.g. reference annotations) of a whole
    signal, with the same conditioning, windows, features and invalid-sample handling as the
    streaming pipeline (:func:`edge.dsp.inputs.beat_inputs_at`)."""
    inp = beat_inputs_at(x_mv, fs_in_hz, beats_in, window=classifier.window,
                         features=classifier.feature_config, filter_config=classifier.filters)
    if len(inp) == 0:
        return ClassifiedBeats(inp.sample_index, inp.processing_index, np.zeros(0, object),
                               np.zeros((0, 5), np.float32), inp.rr_s)
    proba = classifier.predict_proba(inp.beat, inp.features)
    labels = _labels(classifier.classes, proba, inp.window_invalid)
    return ClassifiedBeats(inp.sample_index, inp.processing_index, labels, proba, inp.rr_s,
                           inp.window_invalid, inp.rr_unknown)
