"""``ecg-edge annotate --rhythm``: ventricular flutter/fibrillation and VT as '+' changes."""
from pathlib import Path

import wfdb

from edge.cli.annotate import overlay_changes
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


def test_cudb_excerpt_gets_a_vf_change_after_the_reference_onset(tmp_path, capsys):
    assert main(["annotate", str(EXCERPT), "--rhythm", "--out-dir", str(tmp_path)]) == 0
    assert "1 VF/VFL" in capsys.readouterr().out
    ann = wfdb.rdann(str(tmp_path / "cudb_cu01_excerpt"), "cls")
    changes = [(int(s), a.rstrip("\x00")) for s, y, a in zip(ann.sample, ann.symbol,
                                                            ann.aux_note) if y == "+"]
    assert changes[0] == (0, "(N")
    vf = [(s, a) for s, a in changes if a in ("(VF", "(VFL")]
    assert len(vf) == 1 and abs(vf[0][0] - 8546) < 4 * 250
