"""The device side must never import TensorFlow, and the public API is locked."""
import subprocess
import sys

import edge


def test_edge_and_detector_never_import_tensorflow():
    code = ("import sys, edge, edge.dsp.detection, edge.dsp.rpeak, edge.dsp.beats, edge.cli.main\n"
            "import numpy as np\n"
            "edge.dsp.detection.detect_signal(np.zeros(3600), 360.0)\n"
            "from edge.model.classifier import BeatClassifier\n"
            "from edge.model.bundled import default_model_path\n"
            "clf = BeatClassifier(default_model_path())\n"
            "clf.predict_proba(np.zeros((2, 252, 2), np.float32), np.zeros((2, 14), np.float32))\n"
            "import edge.runtime.daemon, edge.pipeline\n"
            "bad = [m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras')]\n"
            "assert not bad, bad\n")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_public_api():
    assert set(edge.__all__) >= {"Preprocessor", "RPeakDetector", "BeatWindower",
                                 "detect_signal", "EdgeError"}
    for name in edge.__all__:
        assert hasattr(edge, name), name
