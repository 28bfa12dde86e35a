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


def test_import_edge_and_the_entry_point_load_no_numeric_library():
    """``import edge`` and ``edge.cli.main``'s wrapper stay light (names load on first use),
    so Ctrl-C while a command starts is a clean exit and start-up pays for what it runs."""
    code = ("import sys, edge, edge.cli\n"
            "heavy = [m for m in ('numpy', 'scipy') if m in sys.modules]\n"
            "assert not heavy, heavy\n"
            "from edge import RPeakDetector, EdgeError\n"
            "assert RPeakDetector.__module__ == 'edge.dsp.rpeak'\n"
            "try:\n"
            "    edge.no_such_name\n"
            "except AttributeError:\n"
            "    pass\n"
            "else:\n"
            "    raise AssertionError('unknown name resolved')\n")
    subprocess.run([sys.executable, "-c", code], check=True)
    out = subprocess.run([sys.executable, "-m", "edge.cli", "--version"], check=True,
                         capture_output=True, text=True)
    assert edge.__version__ in out.stdout + out.stderr
