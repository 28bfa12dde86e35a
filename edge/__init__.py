"""ecg-edge device side: streaming ECG conditioning, R-peak detection, beat windows and
int8 beat classification. Importing it never imports TensorFlow.

The names below are loaded on first use (PEP 562), so ``import edge`` -- and every command's
start -- costs only what the running path needs; ``from edge import RPeakDetector`` works as
before.
"""
from __future__ import annotations

import importlib

__version__ = "0.1.0"

#: public name -> module that defines it
_EXPORTS = {
    **dict.fromkeys(("BeatBatch", "BeatWindower", "WindowConfig", "extract_windows",
                     "rr_features"), "edge.dsp.beats"),
    "detect_signal": "edge.dsp.detection",
    **dict.fromkeys(("EcgFilter", "FilterConfig", "SosFilter"), "edge.dsp.filters"),
    **dict.fromkeys(("PROCESSING_FS_HZ", "Conditioned", "PreprocessConfig", "Preprocessor"),
                    "edge.dsp.preprocess"),
    "StreamingResampler": "edge.dsp.resample",
    **dict.fromkeys(("DetectorConfig", "RPeakDetector"), "edge.dsp.rpeak"),
    **dict.fromkeys(("ConfigError", "ContractError", "DataError", "DataNotFoundError",
                     "EdgeError", "ModelError", "SignalError"), "edge.errors"),
    **dict.fromkeys(("DetectionScore", "score_detection"), "edge.eval.scoring"),
}

__all__ = list(_EXPORTS)


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'edge' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
