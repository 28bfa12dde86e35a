"""benchmarks/bench_polarity.py: its table and its command-line errors (the run itself needs
trained runs and TensorFlow: a benchmark, not a test)."""
from __future__ import annotations

import pytest

from benchmarks.bench_polarity import VARIANTS, main, render


def _row(f1_v: float, qrs: bool) -> dict:
    row = {"beats": 10, "accuracy": 0.9, "S_se": 0.5, "S_ppv": 0.4, "S_f1": 0.444,
           "V_se": 0.8, "V_ppv": 0.7, "V_f1": f1_v}
    if qrs:
        row.update(qrs_se=99.5, qrs_ppv=99.8)
    return row


def test_the_table_has_one_row_per_run_and_signal():
    res = [{"run": "/x/runA", "variants": {v: _row(0.75, v in ("as recorded", "inverted"))
                                            for v in VARIANTS}}]
    md = render(res, "python benchmarks/bench_polarity.py /x/runA", 12.0)
    rows = [line for line in md.splitlines() if line.startswith("| `runA` |")]
    assert len(rows) == len(VARIANTS)
    assert "| `runA` | inverted | 10 | 90.0 | 0.500 / 0.400 / 0.444 | 0.800 / 0.700 / 0.750 | " \
           "99.50 / 99.80 |" in md
    assert rows[-1].endswith("| – |")
    assert VARIANTS["inverted"] == -1.0


def test_a_folder_that_is_not_a_training_run_is_a_usage_error(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main([str(tmp_path)])
    assert exc.value.code == 2
    assert "not a training run" in capsys.readouterr().err


def test_a_damaged_member_model_is_one_line(tmp_path, capsys):
    pytest.importorskip("tensorflow")
    (tmp_path / "member0").mkdir()
    (tmp_path / "member0" / "beat_cnn.keras").write_text("garbage")
    assert main([str(tmp_path), "--out-stem", str(tmp_path / "out" / "polarity")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "beat_cnn.keras: not a readable .keras model" in err
    assert not (tmp_path / "out").exists()
