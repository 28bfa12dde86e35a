"""training.vt_alarms: the design script of the learning period and the vt evidence gate."""
import numpy as np
import pytest

from edge.runtime.ventricular import VtConfig
from training.vt_alarms import _design_only, main, vt_episodes, vt_runs

FS = 360.0


def replayed(labels, p_v, rr_s=0.4):
    at = 1000 + np.arange(len(labels)) * int(rr_s * FS)
    return {"at": at, "label": np.array(list(labels)), "rr": np.full(len(labels), rr_s),
            "clean": np.ones(len(labels), bool), "p_v": np.asarray(p_v, float),
            "fs": np.float64(FS), "n": np.int64(at[-1] + 1000)}


def test_vt_runs_follow_the_tracker_config():
    # 10 learning beats, then a doubtful 3-beat run (evidence 0.45) and a confident one
    d = replayed("N" * 10 + "NVVVN" + "NVVVN", [0.01] * 11 + [0.6, 0.7, 0.65] + [0.01] * 2
                 + [0.95, 0.97, 0.9] + [0.01])
    gated = vt_runs(d, VtConfig())
    assert gated == [(int(d["at"][16]), int(d["at"][18]))]
    assert len(vt_runs(d, VtConfig(min_v_evidence=0.0))) == 2


def test_vt_episodes_carry_the_grade_and_the_beat_that_raised_the_onset():
    # after the learning: a confident 3-beat run, then a 6-beat one
    d = replayed("N" * 10 + "NVVVN" + "NVVVVVVN", [0.01] * 11 + [0.95] * 3 + [0.01] * 2
                 + [0.95] * 6 + [0.01])
    at = d["at"]
    assert vt_episodes(d, VtConfig()) == [
        (int(at[11]), int(at[13]), "alarm", int(at[13])),
        (int(at[16]), int(at[21]), "alarm", int(at[18]))]
    graded = vt_episodes(d, VtConfig(alarm_min_beats=5))
    assert graded == [(int(at[11]), int(at[13]), "warning", int(at[14])),
                      (int(at[16]), int(at[21]), "alarm", int(at[20]))]
    assert vt_runs(d, VtConfig(alarm_min_beats=5)) == [g[:2] for g in graded]


def test_design_numbers_refuse_ds2_records_and_bad_arguments(capsys):
    with pytest.raises(SystemExit, match="DS2"):
        _design_only("233")
    _design_only("208")
    with pytest.raises(SystemExit):
        main([])
    with pytest.raises(SystemExit):
        main(["--gate", "--variants", "em6,loud3"])
    assert "noise variant" in capsys.readouterr().err


@pytest.mark.parametrize("mitdb", ["empty", "unset"])
def test_a_missing_mitdb_is_one_line_naming_its_variable(tmp_path, monkeypatch, capsys, mitdb):
    """Session 44 script audit: MITDB_DIR empty or unset was a traceback, and the hint named a
    --data-dir option this script does not have."""
    monkeypatch.setenv("ECG_EDGE_CACHE", str(tmp_path / "cache"))  # nothing cached: reads
    monkeypatch.chdir(tmp_path)  # unset: ./data/mitdb, which is not there
    if mitdb == "unset":
        monkeypatch.delenv("MITDB_DIR", raising=False)
    else:
        monkeypatch.setenv("MITDB_DIR", str(tmp_path))
    assert main(["--starts"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "MITDB_DIR" in err and "--data-dir" not in err
    assert "Traceback" not in err


def test_ctrl_c_is_one_line_and_exit_130(monkeypatch, capsys):
    import training.vt_alarms as va

    def interrupted():
        raise KeyboardInterrupt

    monkeypatch.setattr(va, "learning_table", interrupted)
    assert main(["--starts"]) == 130
    assert capsys.readouterr().err.startswith("python -m training.vt_alarms: interrupted")
