"""Adapting on a recording: a labelled recording of the wearer in, a fitted head out.

:func:`adapt_recording` takes the first :attr:`AdaptConfig.adapt_s` seconds of a recording and
its beat annotations (any WFDB annotation file; MIT-BIH symbols mapped to the AAMI classes),
computes the model inputs through the device's own conditioning (any input rate: the pipeline
resamples), runs the two-output base model and fits the head (:func:`~edge.model.adapt.fit.
fit_head`).
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np

from edge.aami import aami_classes
from edge.dsp.inputs import beat_inputs_at
from edge.errors import AdaptError, ModelError
from edge.model.adapt.fit import fit_head
from edge.model.adapt.headfile import WearerHead
from edge.model.adapt.settings import AdaptConfig
from edge.model.classifier import BeatClassifier

__all__ = ["AdaptResult", "adapt_recording", "beat_model_inputs"]

logger = logging.getLogger(__name__)


def beat_model_inputs(clf: BeatClassifier, x_mv: np.ndarray, fs_in_hz: float,
                      beats_in: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Model inputs ``(beat, features, window_invalid)`` at given input-rate beat positions of
    a whole signal, through the device's own conditioning (resampling to the model's rate),
    windows and features -- as :func:`edge.pipeline.classify_at` does; ``window_invalid``:
    the beat's window touches missing, flat or saturated samples."""
    inp = beat_inputs_at(x_mv, fs_in_hz, beats_in, window=clf.window,
                         features=clf.feature_config, filter_config=clf.filters)
    return inp.beat, inp.features, inp.window_invalid


@dataclass(frozen=True)
class AdaptResult:
    """What :func:`adapt_recording` did: the head, and the beats it learned from."""

    head: WearerHead
    n_labelled: int
    n_ignored: int
    cpu_s: float


def adapt_recording(base: BeatClassifier, x_mv: np.ndarray, fs_in_hz: float,
                    sample_index: np.ndarray, symbols, config: AdaptConfig | None = None, *,
                    name: str = "") -> AdaptResult:
    """Fit a wearer head from a labelled recording.

    Parameters
    ----------
    base : the two-output base classifier (:attr:`BeatClassifier.embedding_size` > 0).
    x_mv : the recording, 1-D, mV, at ``fs_in_hz`` (any rate: the pipeline resamples).
    sample_index : annotation positions (input-rate samples).
    symbols : their annotation symbols (MIT-BIH beat symbols are mapped to AAMI classes;
        non-beat annotations are ignored).
    config : head settings (defaults: :class:`AdaptConfig`).
    name : the wearer / record name stored in the file.
    """
    config = config or AdaptConfig()
    if base.embedding_size == 0 and config.use_embedding:
        raise ModelError(f"{base.path.name} has no embedding output: adapt with a two-output "
                         "model (edge/models/default_embed.tflite or `python "
                         "convert/quantize.py --embedding`)")
    t0 = time.process_time()
    x = np.asarray(x_mv, dtype=np.float64)
    if x.ndim != 1 or x.size == 0:
        raise AdaptError(f"the recording must be a non-empty 1-D signal, got shape {x.shape}")
    idx = np.asarray(sample_index, dtype=np.int64)
    sym = np.asarray(symbols, dtype=object)
    aami = aami_classes(sym)
    is_beat = np.array([a is not None for a in aami], dtype=bool)
    inside = (idx >= 0) & (idx < x.size)
    beats, labels = idx[is_beat & inside], aami[is_beat & inside]
    order = np.argsort(beats, kind="stable")
    beats, labels = beats[order], labels[order]
    n_adapt = int(round(config.adapt_s * fs_in_hz))
    window = beats < n_adapt
    if not window.any():
        raise AdaptError(f"no labelled beat in the first {config.adapt_s:g} s of the recording "
                         f"({int(is_beat.sum())} beat annotations in all): check the "
                         "annotation file and --adapt-minutes")
    # Features are causal: compute them over the adaptation window plus a little margin (the
    # post-RR of the last beat needs the next one), then keep the window's beats.
    stop = min(x.size, n_adapt + int(round(5.0 * fs_in_hz)))
    use = beats < stop
    beat, feats, invalid = beat_model_inputs(base, x[:stop], fs_in_hz, beats[use])
    in_window = window[use]
    # a beat in missing, flat or saturated signal teaches the head nothing about the wearer
    # (the device calls it Q): left out, and none left is an error, not a head of flat lines
    n_invalid = int((invalid & in_window).sum())
    if n_invalid == int(in_window.sum()):
        raise AdaptError(f"every labelled beat in the first {config.adapt_s:g} s lies in "
                         f"missing, flat or saturated signal ({n_invalid} beats): nothing to "
                         "adapt on; check the recording and --adapt-minutes")
    if n_invalid:
        logger.warning("%s: %d of %d labelled beats lie in missing, flat or saturated signal; "
                       "left out of the adaptation", name or "wearer", n_invalid,
                       int(in_window.sum()))
    in_window &= ~invalid
    beat, feats, lab = beat[in_window], feats[in_window], labels[use][in_window]
    proba, emb = base.predict_with_embedding(beat, feats) if base.embedding_size else \
        (base.predict_proba(beat, feats), None)
    f_std = base.standardize_features(feats)
    head = fit_head(proba, emb, f_std, lab, config, base=base)
    head.info.update({"record": name, "fs_in_hz": float(fs_in_hz),
                      "adapt_beats_ignored_non_beat": int((~is_beat).sum()),
                      "adapt_beats_ignored_invalid_signal": n_invalid})
    cpu = time.process_time() - t0
    head.info["adapt_cpu_s"] = round(cpu, 3)
    logger.info("adapted %s: classes %s adapted, %s base (%d beats, %.2f CPU s)", name or
                "wearer", "".join(head.adapted), "".join(head.fallback) or "none", lab.size, cpu)
    return AdaptResult(head, int(lab.size), int((~is_beat).sum()), cpu)

