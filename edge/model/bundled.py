"""Files bundled with the package: the int8 models and the demo's record excerpt."""
from __future__ import annotations

from pathlib import Path

__all__ = ["MODELS_DIR", "DATA_DIR", "DEMO_RECORD", "default_model_path",
           "default_embed_model_path"]

#: ``edge/models``: the shipped ``.tflite`` files and their contracts.
MODELS_DIR = Path(__file__).resolve().parent.parent / "models"
#: ``edge/data``: the demo's excerpt of MIT-BIH record 233 (see its ATTRIBUTION.md).
DATA_DIR = Path(__file__).resolve().parent.parent / "data"
#: WFDB record path (no extension) of the demo's excerpt.
DEMO_RECORD = DATA_DIR / "mitdb_233_excerpt"


def default_model_path() -> Path:
    """The int8 beat classifier bundled with the package (``edge/models/default.tflite``)."""
    return MODELS_DIR / "default.tflite"


def default_embed_model_path() -> Path:
    """The two-output (probabilities + embedding) int8 model that ``ecg-edge adapt`` fits a
    wearer's head on (``edge/models/default_embed.tflite``)."""
    return MODELS_DIR / "default_embed.tflite"
