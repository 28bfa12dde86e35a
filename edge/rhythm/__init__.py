"""Rhythm analysis on the device: AF/AFL episodes from beat timing, and strip classes.

* :mod:`edge.rhythm.features` -- RR-irregularity features of a window of beats;
* :mod:`edge.rhythm.model` -- the tree-ensemble model file, evaluated with numpy;
* :mod:`edge.rhythm.analyser` -- the streaming analyser (P(AF) per beat, episodes with
  hysteresis) and :func:`analyse_beats` for a whole record;
* :mod:`edge.rhythm.context` -- rhythm-aware beat calls (an ``S`` in confirmed AF/AFL is
  ``N``, as EC57 counts it);
* :mod:`edge.rhythm.atrial` -- P-wave presence and QRS repeatability of a strip's waveform;
* :mod:`edge.rhythm.strip` -- ``N``/``A``/``O``/``~`` of a short recording.
* :mod:`edge.rhythm.strip_net` -- the strip network (an int8 CNN over a strip's waveform,
  averaged with the strip model).
"""
from __future__ import annotations

from edge.rhythm.analyser import (
    RHYTHM_AF,
    RHYTHM_NOISE,
    RHYTHM_OTHER,
    RHYTHMS,
    WFDB_AUX,
    RhythmAnalyser,
    RhythmChange,
    RhythmConfig,
    RhythmResult,
    analyse_beats,
    load_af_model,
)
from edge.rhythm.context import (
    RhythmAwareBeats,
    SvtRunConfig,
    SvtRunTracker,
    beat_call,
    beat_calls,
    rhythm_aware,
    svt_run_calls,
)
from edge.rhythm.features import FEATURE_NAMES, beat_window_features, rr_window_features
from edge.rhythm.model import TreeModel, load_tree_model
from edge.rhythm.strip import STRIP_CLASSES, StripResult, classify_strip, load_strip_model

__all__ = ["RHYTHM_AF", "RHYTHM_NOISE", "RHYTHM_OTHER", "RHYTHMS", "WFDB_AUX", "RhythmAnalyser",
           "RhythmChange", "RhythmConfig", "RhythmResult", "analyse_beats", "load_af_model",
           "FEATURE_NAMES", "beat_window_features", "rr_window_features", "TreeModel",
           "load_tree_model", "STRIP_CLASSES", "StripResult", "classify_strip", "load_strip_model",
           "RhythmAwareBeats", "beat_call", "beat_calls", "rhythm_aware", "SvtRunConfig",
           "SvtRunTracker", "svt_run_calls"]
