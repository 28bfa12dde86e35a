"""edge.rhythm.context: rhythm-aware beat calls -- an S in confirmed AF/AFL is N, every other
call stands; the online state is what a beat-by-beat device sees (chunk invariance)."""
from __future__ import annotations

import numpy as np
import pytest

from edge.errors import SignalError
from edge.pipeline import ClassifiedBeats
from edge.rhythm import RHYTHM_AF, RHYTHM_OTHER, RhythmAnalyser, beat_call, beat_calls, rhythm_aware
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


def _classified(idx: np.ndarray, labels: list[str]) -> ClassifiedBeats:
    n = idx.size
    proba = np.zeros((n, 5))
    return ClassifiedBeats(idx, idx, np.array(labels, dtype=object), proba, np.zeros((n, 4)))


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
    out = rhythm_aware(_classified(idx, lab), FS)
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
    for s, c in zip(idx.tolist(), lab):
        dr.beat(s, c, 0.8, True)
        device_calls.append(dr.call(c))
    assert device_calls == offline.beats.label.astype(str).tolist()
    assert dr.n_calls_changed == offline.n_changed
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
