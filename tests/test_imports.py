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


def test_the_device_stream_does_not_load_numpy_random():
    """numpy.random costs ~6 MB of RSS: a whole device stream (AF analyser with its window
    probe, VF detector) runs without it."""
    code = ("import sys\n"
            "import numpy as np\n"
            "from edge.model.bundled import default_model_path\n"
            "from edge.model.classifier import BeatClassifier\n"
            "from edge.runtime.device import DeviceStream\n"
            "from edge.runtime.settings import load_config\n"
            "cfg = load_config(None, ['source.serial.port=\"x\"'])\n"
            "s = DeviceStream(BeatClassifier(default_model_path()), cfg, device_id=1, "
            "fs_hz=360.0)\n"
            "t = np.arange(360 * 60) / 360.0\n"
            "x = np.exp(-0.5 * ((t % 0.8 - 0.4) / 0.01) ** 2)\n"
            "x += 0.3 * np.exp(-0.5 * ((t % 0.8 - 0.6) / 0.04) ** 2)\n"
            "for i in range(0, x.size, 36):\n"
            "    s.process(i, x[i:i + 36].reshape(-1, 1))\n"
            "s.flush()\n"
            "assert s.n_beats > 50, s.n_beats\n"
            "import edge.rhythm.features as f\n"
            "assert f._PY_EXACT is True, f._PY_EXACT\n"
            "assert 'numpy.random' not in sys.modules\n")
    subprocess.run([sys.executable, "-c", code], check=True)
