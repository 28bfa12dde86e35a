"""``ecg-edge annotate --rhythm``: ventricular flutter/fibrillation and VT as '+' changes."""
from pathlib import Path

import wfdb

from edge.cli.annotate import overlay_changes, ventricular_episodes
from edge.cli.main import main

REPO = Path(__file__).resolve().parents[3]
EXCERPT = REPO / "tests" / "data" / "cudb" / "cudb_cu01_excerpt"


def test_overlay_puts_ventricular_episodes_over_the_base_rhythm():
    base = [(0, "N"), (1000, "AFIB"), (5000, "N")]
    assert overlay_changes(base, []) == base
    assert overlay_changes(base, [(2000, 2500, "VT")]) == [
        (0, "N"), (1000, "AFIB"), (2000, "VT"), (2500, "AFIB"), (5000, "N")]
    # a base change inside an episode takes effect at its end
    assert overlay_changes(base, [(4000, 6000, "VF")]) == [
        (0, "N"), (1000, "AFIB"), (4000, "VF"), (6000, "N")]
    assert overlay_changes([(0, "N")], [(0, 300, "VFL")]) == [(0, "VFL"), (300, "N")]


def test_vt_runs_get_the_daemons_evidence_gate_when_the_probabilities_are_known():
    """A run of V calls the classifier doubts (P(V) 0.55) is not VT, as in the daemon; a
    confident one is; without probabilities (``classes`` None) every fast V run is."""
    import types

    import numpy as np

    fs, classes = 360.0, ("N", "S", "V", "F", "Q")
    idx = np.arange(20) * 144 + 500  # 150 bpm
    labels = np.array(["N"] * 8 + ["V"] * 4 + ["N"] * 8, dtype=object)

    def beats(p_v):
        proba = np.tile([0.9, 0.05, 0.05, 0.0, 0.0], (20, 1))
        proba[8:12] = [1 - p_v, 0.0, p_v, 0.0, 0.0]
        return types.SimpleNamespace(sample_index=idx, label=labels, proba=proba)

    def vt(b, cls):
        return [e for e in ventricular_episodes(None, fs, b, 360, vf=[], classes=cls)
                if e[2] == "VT"]
    assert vt(beats(0.55), classes) == []
    assert vt(beats(0.55), None) == vt(beats(0.95), classes) != []
    assert vt(beats(0.95), classes)[0][0] == idx[8]


def test_cudb_excerpt_gets_a_vf_change_after_the_reference_onset(tmp_path, capsys):
    assert main(["annotate", str(EXCERPT), "--rhythm", "--out-dir", str(tmp_path)]) == 0
    assert "1 VF/VFL" in capsys.readouterr().out
    ann = wfdb.rdann(str(tmp_path / "cudb_cu01_excerpt"), "cls")
    changes = [(int(s), a.rstrip("\x00")) for s, y, a in zip(ann.sample, ann.symbol,
                                                            ann.aux_note) if y == "+"]
    assert changes[0] == (0, "(N")
    vf = [(s, a) for s, a in changes if a in ("(VF", "(VFL")]
    assert len(vf) == 1 and abs(vf[0][0] - 8546) < 4 * 250
