"""benchmarks/bench_rhythm.py: interval overlap, changes -> AF intervals, episode counts and the
pooled duration/episode statistics (hand-made cases), and the stored results are complete."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from benchmarks import bench_rhythm as br
from edge.rhythm.analyser import RHYTHM_AF, RHYTHM_NOISE, RHYTHM_OTHER, RhythmChange

RESULTS = Path(br.__file__).resolve().parent / "results"


def test_overlap():
    assert br.overlap([(0, 10), (20, 30)], [(5, 25)]) == 10
    assert br.overlap([(0, 10)], [(10, 20)]) == 0
    assert br.overlap([], [(0, 5)]) == 0


def test_intervals_from_changes_open_episode_runs_to_the_end():
    ch = [RhythmChange(0, RHYTHM_OTHER, 0.1), RhythmChange(100, RHYTHM_AF, 0.9),
          RhythmChange(200, RHYTHM_OTHER, 0.1), RhythmChange(300, RHYTHM_AF, 0.9)]
    assert br.intervals_from_changes(ch, 1000) == [(100, 200), (300, 1000)]
    assert br.intervals_from_changes([RhythmChange(0, RHYTHM_OTHER, 0.1)], 50) == []
    # a NOISE change ends an AF interval; NOISE intervals are asked for by name
    ch = [RhythmChange(0, RHYTHM_AF, 0.9), RhythmChange(40, RHYTHM_NOISE, 0.0),
          RhythmChange(70, RHYTHM_OTHER, 0.1)]
    assert br.intervals_from_changes(ch, 100) == [(0, 40)]
    assert br.intervals_from_changes(ch, 100, RHYTHM_NOISE) == [(40, 70)]


def test_noisy_signal_adds_noise_in_nstdb_segments_at_the_snr(nstdb_dir):
    """NSTDB protocol: clean for 5 min, then 2 min noisy every 4 min; noise power = signal
    power (QRS peak-to-peak^2 / 8) / 10^(SNR/10)."""
    import numpy as np

    fs = 360.0
    x = np.sin(np.arange(int(15 * 60 * fs)) / fs * 2 * np.pi)  # peak-to-peak 2
    y = br.noisy_signal(x, fs, "ma", seed=1)
    d = y - x
    t = np.arange(x.size) / fs
    assert np.all(d[t < 300] == 0) and np.all(d[(t >= 420) & (t < 540)] == 0)
    noisy = d[((t - 300) % 240 < 120) & (t >= 300)]
    assert np.all(noisy != 0)
    # the noise record's power varies along it: within a factor 2 of the aim (6 dB: x4)
    assert np.var(noisy) == pytest.approx(2.0 ** 2 / 8 / 10 ** (br.NOISE_SNR_DB / 10), rel=0.5)


def test_episode_counts():
    c = br.episode_counts([(0, 100), (200, 300), (400, 500)], [(50, 60), (250, 450), (600, 700)])
    assert c == {"ref": 3, "ref_found": 3, "det": 3, "det_true": 2}


def test_summary_pools_records_and_counts_false_episodes_only_without_af():
    per = {
        "a": {"truth_s": 100.0, "found_s": 80.0, "overlap_s": 70.0, "ref": 1, "ref_found": 1,
              "det": 2, "det_true": 1, "false_episodes_ge_30s": 1},
        "b": {"truth_s": 0.0, "found_s": 40.0, "overlap_s": 0.0, "ref": 0, "ref_found": 0,
              "det": 1, "det_true": 0, "false_episodes_ge_30s": 1},
        "c": {"truth_s": 0.0, "found_s": 0.0, "overlap_s": 0.0, "ref": 0, "ref_found": 0,
              "det": 0, "det_true": 0, "false_episodes_ge_30s": 0},
    }
    s = br.summarise(per)
    assert s["duration_se"] == pytest.approx(0.7) and s["duration_ppv"] == pytest.approx(70 / 120)
    assert s["episode_se"] == 1.0 and s["episode_ppv"] == pytest.approx(1 / 3)
    assert s["records_without_af"] == 2
    assert s["false_episodes_ge_30s_in_records_without_af"] == 1


def test_stored_results_are_complete():
    path = RESULTS / "rhythm.json"
    if not path.is_file():
        pytest.skip("no stored rhythm results yet")
    res = json.loads(path.read_text())
    assert res["command"].endswith("python benchmarks/bench_rhythm.py")
    for k in ("N", "A", "O", "~", "challenge"):
        assert 0 <= res["cinc"]["model"][k] <= 1 and 0 <= res["cinc"]["baseline"][k] <= 1
    assert res["ds2_looks"] and res["cost_us_per_beat"] > 0
    assert res["ds2"]["model"]["summary"]["records_without_af"] == 17
    assert "DS2 looks" in (RESULTS / "rhythm.md").read_text()


def test_cinc_only_merge_keeps_the_other_sections():
    path = RESULTS / "rhythm.json"
    if not path.is_file():
        pytest.skip("no stored rhythm results yet")
    res = json.loads(path.read_text())
    cinc = {k: v for k, v in res["cinc"].items() if k != "cinc_run"}
    run = {"command": br.CINC_COMMAND, "date": "2026-11-30 00:00 UTC", "runtime_s": 12.0}
    merged = br.merge_cinc(res, cinc, run)
    assert merged["ds2"] == res["ds2"] and merged["date"] == res["date"]
    assert merged["cinc"]["cinc_run"] == run and merged["cinc"]["model"] == cinc["model"]
    md = br.markdown(merged)
    assert "re-run alone" in md and "--cinc-only" in md and "MIT-BIH DS2" in md
    # no stored full run: the CinC section and the DS2 looks only
    md = br.markdown(br.merge_cinc({}, cinc, run))
    assert "CinC 2017" in md and "MIT-BIH DS2" not in md and "DS2 looks" in md


def test_the_cinc_table_shows_the_shipped_scale_beside_the_unscaled_average_and_the_baseline():
    f1 = {"N": 0.9, "A": 0.8, "O": 0.7, "~": 0.6, "challenge": 0.8}
    cinc = {"n_records": 10, "folds": 5, "counts": {}, "too_few_beats": 0, "net_cv": "d",
            "blend_weight": 0.5, "class_scale": {"A": 0.85}, "confusion": {
                t: {q: 0 for q in br.STRIP_CLASSES} for t in br.STRIP_CLASSES},
            **{k: f1 for k in ("model", "unscaled", "trees", "net", "baseline")}}
    md = br.markdown(br.merge_cinc({}, cinc, {"command": "c", "date": "d", "runtime_s": 1.0}))
    rows = [ln for ln in md.splitlines() if ln.startswith("| ") and "0.800" in ln]
    assert len(rows) == 5 and "class scale A x 0.85" in rows[0]
    assert "without the class scale" in rows[1] and "baseline" in rows[4]


@pytest.mark.parametrize("text", ["{not json", "[1, 2]"])
def test_cinc_only_refuses_a_damaged_results_file_before_running(tmp_path, capsys, text):
    (tmp_path / "rhythm.json").write_text(text)
    assert br.main(["--cinc-only", "--out-dir", str(tmp_path)]) == 1
    assert capsys.readouterr().err.startswith("bench_rhythm: error: ")
    assert (tmp_path / "rhythm.json").read_text() == text  # left as it was


def test_cinc_only_needs_two_folds(tmp_path, capsys):
    assert br.main(["--cinc-only", "--folds", "1", "--out-dir", str(tmp_path)]) == 2
    assert "--folds" in capsys.readouterr().err and not any(tmp_path.iterdir())


def test_net_cv_without_fold_networks_is_a_clear_error_before_running(tmp_path):
    with pytest.raises(SystemExit, match="training.strip_net --cv"):
        br.main(["--cinc-only", "--net-cv", str(tmp_path), "--out-dir", str(tmp_path)])
    assert not (tmp_path / "rhythm.json").exists()


def test_net_cv_and_no_net_exclude_each_other(tmp_path, capsys):
    assert br.main(["--cinc-only", "--no-net", "--net-cv", "x", "--out-dir", str(tmp_path)]) == 2
    assert "exclude" in capsys.readouterr().err


def test_fold_networks_from_other_folds_are_refused(tmp_path):
    np.savez(tmp_path / "oof.npz", fold=np.zeros(3, dtype=np.int64))
    with pytest.raises(SystemExit, match="other folds"):
        br.net_cv_probabilities(tmp_path, np.arange(5) % 2, None)
