"""edge.rhythm.context: rhythm-aware beat calls -- an S in confirmed AF/AFL is N, the beats of a
supraventricular run are S, every other call stands; the online state is what a beat-by-beat
device sees (chunk invariance)."""
from __future__ import annotations

import numpy as np
import pytest

from edge.errors import ConfigError, SignalError
from edge.pipeline import ClassifiedBeats
from edge.rhythm import (
    RHYTHM_AF,
    RHYTHM_OTHER,
    RhythmAnalyser,
    SvtRunConfig,
    SvtRunTracker,
    beat_call,
    beat_calls,
    rhythm_aware,
    svt_run_calls,
)
from edge.runtime.rhythm import DeviceRhythm

FS = 250.0


@pytest.mark.parametrize("label, rhythm, want", [
    ("S", RHYTHM_AF, "N"), ("S", RHYTHM_OTHER, "S"), ("S", None, "S"), ("S", "", "S"),
    ("V", RHYTHM_AF, "V"), ("F", RHYTHM_AF, "F"), ("Q", RHYTHM_AF, "Q"), ("N", RHYTHM_AF, "N"),
])
def test_only_s_in_af_changes(label, rhythm, want):
    assert beat_call(label, rhythm) == want


def test_beat_calls_vectorised_and_shape_checked():
    got = beat_calls(np.array(["S", "S", "V", "N"]), np.array([RHYTHM_AF, "N", RHYTHM_AF, ""]))
    assert got.tolist() == ["N", "S", "V", "N"]
    with pytest.raises(SignalError, match="same shape"):
        beat_calls(np.array(["S", "S"]), np.array([RHYTHM_AF]))


def _classified(idx: np.ndarray, labels: list[str], rr_unknown=None) -> ClassifiedBeats:
    n = idx.size
    proba = np.zeros((n, 5))
    unknown = None if rr_unknown is None else np.c_[rr_unknown, np.zeros(n, bool)]
    return ClassifiedBeats(idx, idx, np.array(labels, dtype=object), proba, np.zeros((n, 4)),
                           None if unknown is None else np.zeros(n, bool), unknown)


NO_RUNS = SvtRunConfig(enabled=False)


def _af_then_sinus(rng) -> tuple[np.ndarray, list[str]]:
    """120 s of irregular RR (AF-like; every third beat called S), then 120 s of sinus rhythm
    with an APC (short-long pair) every 8th beat, called S."""
    rr, lab = [], []
    while sum(rr) < 120:
        rr.append(float(rng.uniform(0.4, 1.1)))
        lab.append("S" if len(rr) % 3 == 0 else "N")
    t = sum(rr)
    k = 0
    while sum(rr) < t + 120:
        k += 1
        if k % 8 == 0:
            rr += [0.5, 1.1]
            lab += ["S", "N"]
        else:
            rr.append(0.8 + 0.02 * np.sin(k / 4.0))
            lab.append("N")
    return np.round(np.cumsum(rr) * FS).astype(np.int64) + 100, lab


def test_af_s_calls_become_n_sinus_apcs_stay(rng):
    idx, lab = _af_then_sinus(rng)
    out = rhythm_aware(_classified(idx, lab), FS, svt=NO_RUNS)
    calls = out.beats.label.astype(str)
    model = np.array(lab)
    changed = calls != model
    assert out.n_changed == int(changed.sum()) > 0
    assert np.all(model[changed] == "S") and np.all(calls[changed] == "N")
    assert np.all(out.rhythm.online[changed] == RHYTHM_AF)
    t = idx / FS
    sinus = t > t[model.size // 2] + 60  # well after the AF stretch ended
    assert np.all(calls[sinus] == model[sinus])  # real APCs in sinus rhythm stay S
    # before the analyser confirmed AF, the model's calls stand
    first_af = int(np.argmax(out.rhythm.online == RHYTHM_AF))
    assert np.all(calls[:first_af] == model[:first_af])
    assert out.beats.proba is not None and out.beats.sample_index is idx


@pytest.mark.parametrize("chunk", [1, 7, 10_000])
def test_online_state_is_what_a_device_sees(rng, chunk):
    """The daemon's DeviceRhythm, beat by beat, reports the same calls as the whole-record
    post-stage; the analyser fed in chunks gives the same online state."""
    idx, lab = _af_then_sinus(rng)
    offline = rhythm_aware(_classified(idx, lab), FS)
    dr = DeviceRhythm(device_id=1, fs_hz=FS)
    device_calls = []
    rr = np.diff(idx, prepend=np.nan) / FS
    for s, c, r in zip(idx.tolist(), lab, rr.tolist()):
        dr.beat(s, c, r, True)
        device_calls.append(dr.call(c))
    assert device_calls == offline.beats.label.astype(str).tolist()
    assert dr.n_calls_changed + dr.n_svt_calls == offline.n_changed
    assert dr.n_svt_calls == offline.n_svt
    # and in chunks through beats(), as the daemon feeds them
    for k in (7, 10_000):
        dr = DeviceRhythm(device_id=1, fs_hz=FS)
        got = [c for i in range(0, idx.size, k)
               for _, c, _ in dr.beats(idx[i:i + k].tolist(), lab[i:i + k], rr[i:i + k].tolist(),
                                       [True] * len(lab[i:i + k]))]
        assert got == device_calls
    an = RhythmAnalyser()
    states = [an.process_online(idx[i:i + chunk], FS, np.array(lab[i:i + chunk]))[1]
              for i in range(0, idx.size, chunk)]
    assert np.concatenate(states).tolist() == offline.rhythm.online.tolist()


def test_context_off_in_the_device_keeps_the_model_call(rng):
    idx, lab = _af_then_sinus(rng)
    dr = DeviceRhythm(device_id=1, fs_hz=FS, beat_context=False)
    calls = []
    for s, c in zip(idx.tolist(), lab):
        dr.beat(s, c, 0.8, True)
        calls.append(dr.call(c))
    assert calls == lab and dr.n_calls_changed == 0


def test_no_beats():
    idx = np.zeros(0, dtype=np.int64)
    out = rhythm_aware(_classified(idx, []), FS)
    assert len(out.beats) == 0 and out.n_changed == 0


# ----------------------------------------------------------------- supraventricular runs
def _rr_to_idx(rr: list[float]) -> np.ndarray:
    return np.round(np.cumsum(rr) * FS).astype(np.int64) + 100


def _sinus_svt_sinus(n_run: int = 20, run_rr: float = 0.4) -> tuple[list[float], list[str]]:
    """30 sinus beats at 0.8 s, an SVT of ``n_run`` beats at ``run_rr`` whose first beat the
    model calls S and the rest N (on time for the run), then 30 sinus beats."""
    rr = [0.8] * 30 + [run_rr] * n_run + [0.9] + [0.8] * 29
    lab = ["N"] * 30 + ["S"] + ["N"] * (n_run - 1) + ["N"] * 30
    return rr, lab


def test_run_beats_after_the_first_are_reported_s():
    rr, lab = _sinus_svt_sinus()
    calls, n = svt_run_calls(np.array(lab), np.array(rr))
    want = list(lab)
    want[31:50] = ["S"] * 19
    assert calls.tolist() == want and n == 19


def test_a_run_the_model_does_not_start_with_s_is_found_from_its_second_beat():
    rr, lab = _sinus_svt_sinus()
    lab[30] = "N"
    calls, n = svt_run_calls(np.array(lab), np.array(rr))
    assert calls[30] == "N" and np.all(calls[31:50] == "S") and n == 19
    assert np.all(calls[:30] == "N") and np.all(calls[50:] == "N")


@pytest.mark.parametrize("case", ["sinus_tachycardia", "slow", "irregular", "single_apcs",
                                  "v_beats", "unclean", "disabled"])
def test_what_is_not_a_run(case, rng):
    rr, lab = _sinus_svt_sinus()
    clean = np.ones(len(rr), bool)
    cfg = None
    if case == "sinus_tachycardia":  # the rate builds up beat by beat: the baseline follows
        rr = [0.8 * 0.98 ** k for k in range(40)] + [0.8 * 0.98 ** 40] * 30
        lab = ["N"] * len(rr)
    elif case == "slow":  # 1.5 s -> 0.7 s (86 bpm): abrupt but below 100 bpm
        rr = [1.5] * 30 + [0.7] * 20 + [1.5] * 10
        lab = ["N"] * len(rr)
    elif case == "irregular":  # AF-like: no two short intervals alike for long
        rr = [0.8] * 30 + [0.35, 0.55] * 10 + [0.8] * 10
        lab = ["N"] * len(rr)
    elif case == "single_apcs":  # short-long pairs in sinus rhythm
        rr = ([0.8] * 7 + [0.5, 1.1]) * 10
        lab = (["N"] * 7 + ["S", "N"]) * 10
    elif case == "v_beats":  # a fast run of V calls is the ventricular stage's business
        lab[31:50] = ["V"] * 19
    elif case == "unclean":  # every run interval across unreadable signal
        clean[30:50] = False
    else:
        cfg = SvtRunConfig(enabled=False)
    calls, n = svt_run_calls(np.array(lab), np.array(rr), clean[:len(rr)] if case == "unclean"
                             else None, cfg)
    assert calls.tolist() == list(lab) and n == 0


def test_missed_beats_do_not_raise_the_baseline():
    """A tachycardia at 0.38 s the detector reads with missed beats (0.76 s intervals) among
    the beats: those intervals stay out of the baseline, so the 0.38-s beats are no run
    (SVDB 848's 160 bpm stretches end to end, in small)."""
    rr = [0.38] * 10 + [0.76, 0.38, 0.38, 0.76, 0.76, 0.38, 0.76] + [0.38] * 30
    lab = ["N"] * len(rr)
    calls, n = svt_run_calls(np.array(lab), np.array(rr))
    assert n == 0
    # without the guard (ratio 10): the missed beats' intervals enter the baseline
    _, n = svt_run_calls(np.array(lab), np.array(rr), config=SvtRunConfig(missed_beat_ratio=10))
    assert n > 0


def test_a_lasting_slower_rhythm_becomes_the_baseline():
    """0.4-s sinus, then 0.9-s for good: after relearn_beats such intervals the baseline is
    0.9 s and a run at 0.45 s is found (without relearning it would never be)."""
    rr = [0.4] * 10 + [0.9] * 20 + [0.45] * 10
    lab = ["N"] * len(rr)
    calls, n = svt_run_calls(np.array(lab), np.array(rr))
    assert n == 9 and np.all(calls[31:] == "S")
    _, n = svt_run_calls(np.array(lab), np.array(rr), config=SvtRunConfig(relearn_beats=25))
    assert n == 0


def test_a_long_unreadable_stretch_clears_the_baseline():
    """Audit (session 49): sinus at 0.8 s, an 11-s lead-off, then sinus at 0.5 s: the rate
    changed unseen, so the faster beats are no abrupt run (two were reported S). A short
    unreadable interval (a lost radio frame) keeps the baseline: a real run after it is
    still found."""
    rr = [0.8] * 20 + [11.0] + [0.5] * 20
    lab = ["N"] * len(rr)
    clean = np.ones(len(rr), bool)
    clean[20] = False
    calls, n = svt_run_calls(np.array(lab), np.array(rr), clean)
    assert n == 0 and calls.tolist() == lab
    _, n = svt_run_calls(np.array(lab), np.array(rr), clean, SvtRunConfig(stale_gap_s=20.0))
    assert n > 0  # the guard is what keeps them N
    rr[20] = 1.2  # a short gap: the baseline stands and the run is found
    _, n = svt_run_calls(np.array(lab), np.array(rr), clean)
    assert n > 0


def test_a_v_beat_or_a_slower_beat_ends_the_run():
    rr, lab = _sinus_svt_sinus()
    lab[40] = "V"
    calls, _ = svt_run_calls(np.array(lab), np.array(rr))
    assert np.all(calls[31:40] == "S") and calls[40] == "V"
    assert calls[41] == "N"  # starts a new run: keeps its call
    assert np.all(calls[42:50] == "S")


@pytest.mark.parametrize("chunk", [1, 3, 7, 1000])
def test_tracker_chunk_invariance(chunk, rng):
    rr = list(rng.choice([0.8, 0.42, 0.45, 0.6], size=400, p=[0.5, 0.2, 0.2, 0.1]))
    lab = list(rng.choice(["N", "S", "V"], size=400, p=[0.8, 0.15, 0.05]))
    whole, _ = svt_run_calls(np.array(lab), np.array(rr))
    assert np.sum(whole != np.array(lab)) > 0  # the case exercises the tracker
    tracker = SvtRunTracker()
    got = [tracker.call(c, r) for i in range(0, 400, chunk)
           for c, r in zip(lab[i:i + chunk], rr[i:i + chunk])]
    assert got == whole.tolist()


def test_rhythm_aware_applies_runs_then_af(rng):
    rr, lab = _sinus_svt_sinus()
    idx = _rr_to_idx(rr)
    out = rhythm_aware(_classified(idx, lab), FS)
    assert np.all(out.beats.label[31:50] == "S") and out.n_svt == 19 == out.n_changed
    unknown = np.zeros(idx.size, bool)
    unknown[35] = True  # an interval across invalid samples ends the run there
    out = rhythm_aware(_classified(idx, lab, unknown), FS)
    assert out.beats.label[35] == "N" and out.beats.label[36] == "N"
    assert np.all(out.beats.label[37:50] == "S")
    off = rhythm_aware(_classified(idx, lab), FS, svt=NO_RUNS)
    assert off.beats.label.tolist() == lab and off.n_svt == 0


def test_device_rhythm_reports_runs_and_resets_at_a_restart():
    rr, lab = _sinus_svt_sinus()
    idx = _rr_to_idx(rr)
    dr = DeviceRhythm(device_id=1, fs_hz=FS)
    got = [c for _, c, _ in dr.beats(idx[:40].tolist(), lab[:40], rr[:40], [True] * 40)]
    assert got[31:40] == ["S"] * 9
    dr.end(int(idx[39]), "restart")
    got = [c for _, c, _ in dr.beats(idx[40:].tolist(), lab[40:], rr[40:], [True] * 40)]
    assert got == lab[40:]  # no baseline after the restart: nothing to compare with
    off = DeviceRhythm(device_id=1, fs_hz=FS, svt=NO_RUNS)
    assert [c for _, c, _ in off.beats(idx.tolist(), lab, rr, [True] * len(rr))] == lab


@pytest.mark.parametrize("kw, field", [
    ({"max_rr_ratio": 1.0}, "max_rr_ratio"), ({"max_rr_ratio": 0}, "max_rr_ratio"),
    ({"rr_tolerance": -0.1}, "rr_tolerance"), ({"min_rate_bpm": 0}, "min_rate_bpm"),
    ({"baseline_beats": 0}, "baseline_beats"), ({"baseline_beats": 2.5}, "baseline_beats"),
    ({"min_baseline_beats": 9}, "min_baseline_beats"), ({"enabled": "yes"}, "enabled"),
    ({"missed_beat_ratio": 1.0}, "missed_beat_ratio"), ({"relearn_beats": 0}, "relearn_beats"),
    ({"stale_gap_s": 0}, "stale_gap_s"), ({"stale_gap_s": float("inf")}, "stale_gap_s"),
    ({"stale_gap_s": True}, "stale_gap_s"),
])
def test_svt_config_errors(kw, field):
    with pytest.raises(ConfigError, match=field):
        SvtRunConfig(**kw)


def test_svt_shape_checked():
    with pytest.raises(SignalError, match="one length"):
        svt_run_calls(np.array(["N", "S"]), np.array([0.8]))
