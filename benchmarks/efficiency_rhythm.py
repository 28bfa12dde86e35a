"""CPU cost of the rhythm (AF analyser) and ventricular (VF detector) stages (issue 18).

:func:`rhythm_stage_costs` (imported by ``benchmarks/bench_efficiency.py``) measures, on one
core (``time.process_time``), over MIT-BIH records:

* the AF analyser (:class:`edge.rhythm.RhythmAnalyser`, bundled model, P(AF) included) per
  beat, on the reference beats (``atr``, AAMI classes as labels), fed one beat per call (a
  device with small chunks), the beats of each second per call (the daemon at 1-s chunks) and
  all beats in one call (``ecg-edge annotate``);
* the VF detector (:class:`edge.rhythm.ventricular.VfDetector`, 4-s windows every second,
  bundled model) per window, fed the conditioned signal (conditioned once, outside the timing)
  in chunks of 20 ms, 1 s and 10 s.

Design records only (MIT-BIH DS1 by default): a cost measurement is no look at a test set.

    MITDB_DIR=... python benchmarks/efficiency_rhythm.py [--records 201 203 ...]
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from edge.aami import AAMI_MAP  # noqa: E402
from edge.dsp.preprocess import PreprocessConfig, Preprocessor  # noqa: E402
from edge.errors import EdgeError  # noqa: E402
from edge.io.records import read_annotations, read_record  # noqa: E402
from edge.rhythm.analyser import RhythmAnalyser, load_af_model  # noqa: E402
from edge.rhythm.ventricular import VentricularConfig, VfDetector, load_vf_model  # noqa: E402

__all__ = ["DEFAULT_RECORDS", "rhythm_stage_costs"]

#: Ten MIT-BIH DS1 records (two with AF, several with frequent PVCs or VT runs).
DEFAULT_RECORDS = ("101", "106", "119", "201", "203", "205", "207", "208", "215", "223")
#: Beats per call of the analyser runs: one, one second's, all.
BEAT_CALLS = ("1 beat", "1 s", "record")
#: VF chunk sizes (s).
VF_CHUNKS_S = (0.02, 1.0, 10.0)


def _beats(record: str, data_dir: str | None) -> tuple[np.ndarray, np.ndarray, float]:
    ann = read_annotations(record, "atr", data_dir=data_dir)
    keep = np.isin(ann.symbol, list(AAMI_MAP))
    labels = np.array([AAMI_MAP[s] for s in ann.symbol[keep]])
    return ann.sample_index[keep], labels, float(ann.fs_hz)


def _analyser_cpu_s(idx: np.ndarray, labels: np.ndarray, fs_hz: float, how: str,
                    model) -> float:  # noqa: ANN001
    an = RhythmAnalyser(model=model)
    if how == "1 beat":
        bounds = np.arange(idx.size + 1)
    elif how == "1 s":
        bounds = np.searchsorted(idx, np.arange(0, idx[-1] + fs_hz, fs_hz))
        bounds = np.unique(np.concatenate([[0], bounds, [idx.size]]))
    else:
        bounds = np.array([0, idx.size])
    t0 = time.process_time()
    for a, b in zip(bounds[:-1].tolist(), bounds[1:].tolist()):
        an.process(idx[a:b], fs_hz, labels[a:b])
    return time.process_time() - t0


def _vf_cpu_s(cond, chunk: int, model) -> tuple[float, int]:  # noqa: ANN001
    from edge.dsp.preprocess import Conditioned

    det = VfDetector(VentricularConfig(), model)
    x, v = cond.filtered_mv, cond.valid
    n_windows = 0
    t0 = time.process_time()
    for i in range(0, x.size, chunk):
        n_windows += len(det.process(Conditioned(i, x[i:i + chunk], v[i:i + chunk])).windows)
    det.end()
    return time.process_time() - t0, n_windows


def rhythm_stage_costs(records: tuple[str, ...] | list[str] = DEFAULT_RECORDS,
                       data_dir: str | None = None) -> dict:
    """Per-beat us of the AF analyser and per-window us of the VF detector on ``records``
    (see the module docstring); totals over all records, one core."""
    from edge.dsp.preprocess import Conditioned

    af_model, vf_model = load_af_model(), load_vf_model()
    beats = {how: [0.0, 0] for how in BEAT_CALLS}
    windows = {f"{s:g} s": [0.0, 0] for s in VF_CHUNKS_S}
    for rec_name in records:
        idx, labels, fs = _beats(rec_name, data_dir)
        for how in BEAT_CALLS:
            beats[how][0] += _analyser_cpu_s(idx, labels, fs, how, af_model)
            beats[how][1] += idx.size
        rec = read_record(rec_name, data_dir=data_dir)
        pre = Preprocessor(PreprocessConfig(fs_in_hz=rec.fs_hz))
        parts = [pre.process(rec.signal_mv[:, 0]), pre.flush()]
        cond = Conditioned(0, np.concatenate([p.filtered_mv for p in parts]),
                           np.concatenate([p.valid for p in parts]))
        for s in VF_CHUNKS_S:
            cpu, n = _vf_cpu_s(cond, max(1, int(round(s * pre.config.fs_out_hz))), vf_model)
            windows[f"{s:g} s"][0] += cpu
            windows[f"{s:g} s"][1] += n
    return {
        "records": list(records),
        "analyser_us_per_beat": {k: round(1e6 * c / max(1, n), 1) for k, (c, n) in beats.items()},
        "vf_us_per_window": {k: round(1e6 * c / max(1, n), 1) for k, (c, n) in windows.items()},
        "beats": beats["record"][1],
        "windows": windows["1 s"][1],
        "analyser_cpu_s": {k: round(c, 3) for k, (c, _) in beats.items()},
        "vf_cpu_s": {k: round(c, 3) for k, (c, _) in windows.items()},
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", nargs="+", default=list(DEFAULT_RECORDS))
    ap.add_argument("--data-dir", default=None, help="MIT-BIH directory (default $MITDB_DIR)")
    args = ap.parse_args(argv)
    try:
        costs = rhythm_stage_costs(args.records, args.data_dir)
    except EdgeError as exc:
        print(f"efficiency_rhythm: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("efficiency_rhythm: interrupted", file=sys.stderr)
        return 130
    print(json.dumps(costs, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
