"""ecg-edge device side: streaming ECG conditioning, R-peak detection, beat windows and
int8 beat classification. Importing it never imports TensorFlow."""
from edge.dsp.beats import (
                         BeatBatch,
                         BeatWindower,
                         WindowConfig,
                         extract_windows,
                         rr_features,
)
from edge.dsp.detection import detect_signal
from edge.dsp.filters import EcgFilter, FilterConfig, SosFilter
from edge.dsp.preprocess import (
                         PROCESSING_FS_HZ,
                         Conditioned,
                         PreprocessConfig,
                         Preprocessor,
)
from edge.dsp.resample import StreamingResampler
from edge.dsp.rpeak import DetectorConfig, RPeakDetector
from edge.errors import (
                         ConfigError,
                         ContractError,
                         DataError,
                         DataNotFoundError,
                         EdgeError,
                         ModelError,
                         SignalError,
)
from edge.eval.scoring import DetectionScore, score_detection

__version__ = "0.1.0"

__all__ = [
    "BeatBatch", "BeatWindower", "WindowConfig", "extract_windows", "rr_features",
    "detect_signal",
    "ConfigError", "ContractError", "DataError", "DataNotFoundError", "EdgeError", "ModelError",
    "SignalError",
    "EcgFilter", "FilterConfig", "SosFilter",
    "PROCESSING_FS_HZ", "Conditioned", "PreprocessConfig", "Preprocessor",
    "StreamingResampler",
    "DetectorConfig", "RPeakDetector",
    "DetectionScore", "score_detection",
]
