import numpy as np
import pytest

from edge.errors import SignalError
from edge.pipeline import BeatPipeline
from edge.runtime.device import DeviceStream
from edge.runtime.settings import load_config

CFG = ['source.kind="replay"', 'source.replay.record="100"']


@pytest.fixture(scope="module")
def rec100(mitdb_dir):
    from edge.io.records import read_record

    return read_record("100", data_dir=mitdb_dir, sampto=360 * 120)


def run(stream, x, start=0, step=144):
    ev = []
    for i in range(0, x.shape[0], step):
        ev += stream.process(start + i, x[i:i + step])
    return ev + stream.flush()


def beats(events):
    return [e for e in events if e.type == "beat"]


def test_same_beats_as_the_pipeline_at_any_chunking(classifier, rec100):
    x = rec100.signal_mv
    ref = BeatPipeline(classifier, 360).run(x[:, 0], 360)
    for step in (36, 1000):
        b = beats(run(DeviceStream(classifier, load_config(None, CFG), device_id=1,
                                   fs_hz=360), x, step=step))
        assert [e.sample_index for e in b] == ref.sample_index.tolist()
        assert [e.label for e in b] == ref.label.tolist()


def test_short_gap_is_filled_and_long_gap_resets(classifier, rec100):
    x = rec100.signal_mv
    ds = DeviceStream(classifier, load_config(None, CFG), device_id=1, fs_hz=360,
                      first_index=5000)
    ev = []
    ev += ds.process(5000, x[:20000])
    ev += ds.process(5000 + 20360, x[20360:30000])  # 1 s lost
    ev += ds.process(5000 + 30000 + 10800, x[40800:])  # 30 s lost
    ev += ds.flush()
    gaps = [e for e in ev if e.type == "link" and e.state == "gap"]
    assert [(g.lost_samples, g.action) for g in gaps] == [(360, "filled"), (10800, "reset")]
    b = beats(ev)
    idx = np.array([e.sample_index for e in b])
    assert np.all(np.diff(idx) > 0) and idx[0] >= 5000
    assert np.sum(idx > 5000 + 20360 + 720) > 30  # classification continues after the fill
    assert np.sum(idx > 5000 + 40800) >= 1  # ... and after the restart
    assert not np.any((idx > 5000 + 30000) & (idx < 5000 + 40800))
    assert ds.n_gaps == 2 and ds.n_lost_samples == 11160


def test_device_at_250_hz(classifier, rec100, mitdb_dir):
    from scipy.signal import resample_poly

    from edge.eval.compare import compare_beats
    from edge.io.records import read_annotations

    x = resample_poly(rec100.signal_mv, 25, 36, axis=0)
    ds = DeviceStream(classifier, load_config(None, CFG), device_id=2, fs_hz=250)
    b = beats(run(ds, x, step=25))
    ann = read_annotations("100", data_dir=mitdb_dir, sampto=360 * 120)
    ref = np.round(ann.sample_index * 250 / 360).astype(int)
    score = compare_beats(ref, ann.symbol, [e.sample_index for e in b], [e.label for e in b],
                          250.0).detection
    assert score.se > 0.99 and score.ppv > 0.99 and b[0].fs_hz == 250


def test_missing_channel_is_a_signal_error(classifier):
    cfg = load_config(None, CFG + ["source.channel=1"])
    ds = DeviceStream(classifier, cfg, device_id=1, fs_hz=360)
    with pytest.raises(SignalError):
        ds.process(0, np.zeros((10, 1)))


def test_stage_times_come_from_the_pipeline_hook(classifier, rec100):
    """DeviceStream runs BeatPipeline (no second copy of its stages): every stage time the
    pipeline reports lands in the stream's StageTimer, under the names bench_daemon reads."""
    ds = DeviceStream(classifier, load_config(None, CFG), device_id=1, fs_hz=360)
    calls = []
    process = ds.pipeline.process
    ds.pipeline.process = lambda x, **kw: calls.append(x.size) or process(x, **kw)
    run(ds, rec100.signal_mv[:360 * 30], step=720)
    assert sum(calls) == 360 * 30
    assert {"preprocess", "detect", "window", "featurize", "classify", "quality", "events",
            "alerts"} <= set(ds.timer.calls)
    assert ds.timer.calls["preprocess"] == len(calls) + 1
    # detection runs only in the calls by whose end a beat could come
    assert 0 < ds.timer.calls["detect"] <= ds.timer.calls["preprocess"]


def test_beats_next_to_a_nan_gap_are_flagged_not_ectopic(classifier, rec100):
    """Issue 14, bad input 9 in the device path: record 100 with seconds 20-30 lost."""
    x = rec100.signal_mv[:360 * 60].copy()
    x[360 * 20:360 * 30] = np.nan
    b = beats(run(DeviceStream(classifier, load_config(None, CFG), device_id=1, fs_hz=360),
                  x, step=144))
    idx = np.array([e.sample_index for e in b])
    before = int(np.flatnonzero(idx < 360 * 20)[-1])
    after = np.flatnonzero(idx >= 360 * 30)[:3]
    assert b[before].quality == "lead_off" and b[after[0]].quality == "lead_off"
    assert b[before].label not in ("V", "S") and all(b[k].label == "N" for k in after)
    assert b[after[0]].rr_s["pre"] < 1.2  # the local mean, not a 3 s "pause"
    assert all(e.quality == "good" for e in b[:before - 2])
    assert not any(e.type == "alert" and e.kind == "pause"
                   for e in run(DeviceStream(classifier, load_config(None, CFG), device_id=1,
                                             fs_hz=360), x, step=144))


def test_hr_events_every_interval_of_ecg_whatever_the_chunk_size(classifier, rec100):
    """At --speed max the serial source delivers big chunks; hr events must still come every
    outputs.hr_interval_s (5 s) of ECG, not once per chunk (6.4 s chunks gave 6.4 s)."""
    x = rec100.signal_mv[:360 * 60]
    for step in (144, int(6.4 * 360)):
        ds = DeviceStream(classifier, load_config(None, CFG), device_id=1, fs_hz=360)
        hr = [e for e in run(ds, x, step=step) if e.type == "hr"]
        assert [e.sample_index + 1 for e in hr] == [360 * 5 * k for k in range(1, 13)], step
        assert hr[-1].hr_bpm is not None


def _unstamped(events):
    """Events as JSON without emission stamps, in emission order."""
    import json

    from edge.events.model import event_to_dict

    out = []
    for e in events:
        d = event_to_dict(e)
        d.pop("time_s", None)
        d.pop("seq", None)
        out.append(json.dumps(d, sort_keys=True, default=str))
    return out


def _content(events):
    """Events without emission stamps, sorted (the order across kinds follows chunk ends)."""
    return sorted(_unstamped(events))


@pytest.fixture(scope="module")
def rec207_flutter(mitdb_dir):
    """Record 207 from 4 min: ventricular flutter at ~4.3 min, with a 3-s NaN gap after 20 s."""
    from edge.io.records import read_record

    rec = read_record("207", data_dir=mitdb_dir, sampfrom=360 * 240, sampto=360 * 330)
    x = rec.signal_mv.copy()
    x[360 * 20:360 * 23, :] = np.nan
    return x


def test_every_event_is_the_same_at_any_chunking(classifier, rec207_flutter):
    """Beats, their quality and flags, hr, quality, strip, rhythm and ventricular alerts (the
    vfib episode, and the lower alarms chained under it): identical for 20-ms frames, with or
    without the block queue, and for 7.3-s chunks."""
    x = rec207_flutter
    results = {}
    for step, block_ms in ((7, 100.0), (7, 0.0), (2628, 100.0), (36, 100.0)):
        cfg = load_config(None, CFG + [f"pipeline.min_block_ms={block_ms}"])
        ev = run(DeviceStream(classifier, cfg, device_id=1, fs_hz=360), x, step=step)
        results[(step, block_ms)] = _content(ev)
    kinds = {__import__("json").loads(e)["type"] for e in results[(36, 100.0)]}
    assert {"beat", "alert", "hr", "quality", "strip"} <= kinds
    assert any('"vfib"' in e for e in results[(36, 100.0)])
    first = next(iter(results.values()))
    for key, got in results.items():
        assert got == first, key


def test_short_chunks_wait_for_a_block_and_drain_processes_them(classifier, rec100):
    x = rec100.signal_mv
    cfg = load_config(None, CFG + ["pipeline.min_block_ms=100"])
    ds = DeviceStream(classifier, cfg, device_id=1, fs_hz=360)
    assert ds.block == 36
    assert ds.process(0, x[:20]) == [] and ds.queued_samples == 20
    assert ds.expected == 0  # nothing processed yet
    ds.process(20, x[20:30])
    assert ds.queued_samples == 30 and ds.expected == 0
    ds.process(30, x[30:60])  # the block is full: all 60 samples are processed
    assert ds.queued_samples == 0 and ds.expected == 60
    ds.process(60, x[60:70])
    assert ds.queued_samples == 10
    ds.drain()
    assert ds.queued_samples == 0 and ds.expected == 70
    # a gap is measured from the queued samples' end, not from the processed ones
    ds.process(70, x[70:80])
    ev = ds.process(80 + 360, x[80 + 360:80 + 400])
    gaps = [e for e in ev if e.type == "link" and e.state == "gap"]
    assert [(g.lost_samples, g.sample_index) for g in gaps] == [(360, 440)]


def test_min_block_ms_is_validated():
    from edge.errors import ConfigError

    for bad in ("-1", "5000", '"x"', "nan"):
        with pytest.raises(ConfigError, match="min_block_ms"):
            load_config(None, CFG + [f"pipeline.min_block_ms={bad}"])


def test_flutter_beats_setting_reaches_the_pipeline(classifier):
    """``pipeline.flutter_beats`` (default true) is the device's BeatPipeline's; a value that
    is not a boolean is refused by name."""
    from edge.errors import ConfigError

    for text, want in (("true", True), ("false", False)):
        cfg = load_config(None, CFG + [f"pipeline.flutter_beats={text}"])
        assert DeviceStream(classifier, cfg, device_id=1, fs_hz=360.0).pipeline.flutter_beats \
            is want
    assert load_config(None, CFG).pipeline.flutter_beats is True
    for bad in ("1", '"yes"'):
        with pytest.raises(ConfigError, match="flutter_beats"):
            load_config(None, CFG + [f"pipeline.flutter_beats={bad}"])


def test_bridge_gaps_setting_is_a_boolean_and_reaches_the_stream(classifier):
    from edge.errors import ConfigError

    for text, want in (("true", True), ("false", False)):
        cfg = load_config(None, CFG + [f"pipeline.bridge_gaps={text}"])
        assert DeviceStream(classifier, cfg, device_id=1, fs_hz=360.0).bridge_gaps is want
    assert load_config(None, CFG).pipeline.bridge_gaps is True
    for bad in ("1", '"yes"'):
        with pytest.raises(ConfigError, match="bridge_gaps"):
            load_config(None, CFG + [f"pipeline.bridge_gaps={bad}"])


def _per_call(stream, x, steps, start=0):
    """Each call's events in emission order (without stamps), chunk sizes cycling through
    ``steps``, with a filled gap (0.5 s lost) and a reset gap (30 s lost) on the way."""

    calls, i, k = [], 0, 0
    fs = int(stream.fs_hz)
    lost = {x.shape[0] // 3: fs // 2, 2 * x.shape[0] // 3: 30 * fs}
    while i < x.shape[0]:
        n = steps[k % len(steps)]
        k += 1
        calls.append(_unstamped(stream.process(start + i, x[i:i + n])))
        i += n
        for at, skip in lost.items():
            if i >= at:
                start += skip
                lost.pop(at)
                break
    calls.append(_unstamped(stream.flush()))
    return calls


@pytest.mark.parametrize("fs_hz", [360, 250])
def test_idle_blocks_change_no_event_and_no_call(classifier, rec207_flutter, fs_hz):
    """Blocks in which no stage can emit wait in the queue (lazy_blocks): every call returns
    exactly the events, in the order, that processing every block gives -- with flutter, a
    NaN stretch, a filled and a reset gap, 20-ms and irregular frames, and at 250 Hz (the
    due points converted from the processing rate)."""
    x = rec207_flutter
    if fs_hz != 360:
        from scipy.signal import resample_poly

        x = resample_poly(np.nan_to_num(x), 25, 36, axis=0)
    cfg = load_config(None, CFG + ["pipeline.min_block_ms=100"])
    frame = int(round(0.02 * fs_hz))
    for steps in ((frame,), (frame, 3, 50, 1, 2 * fs_hz)):
        got = {}
        for lazy in (False, True):
            ds = DeviceStream(classifier, cfg, device_id=1, fs_hz=fs_hz, lazy_blocks=lazy)
            got[lazy] = _per_call(ds, x, steps)
            if lazy and len(steps) == 1:
                assert ds.n_blocks_held > 300  # of ~900 blocks: the queue did hold idle ones
                # and blocks processed for the strip or quality alone skipped the detector
                assert ds.timer.calls["detect"] < 0.9 * ds.timer.calls["preprocess"]
        assert len(got[True]) == len(got[False])
        assert sum(map(len, got[True])) > 100
        diff = [k for k, (a, b) in enumerate(zip(got[False], got[True])) if a != b]
        assert diff == [], (steps, diff[:3])


def test_samples_after_an_hr_event_wait_when_nothing_is_due(classifier, rec100):
    """A block processed because an ``hr`` event is due is fed in two pieces (the ``hr``
    piece, then the rest); the rest goes back to the queue when no stage can emit by its
    end: at 20-ms frames no pipeline call ends where nothing is due, and every call returns
    what processing every block returns."""
    x = rec100.signal_mv
    cfg = load_config(None, CFG + ["pipeline.min_block_ms=100"])
    got = {}
    for lazy in (False, True):
        ds = DeviceStream(classifier, cfg, device_id=1, fs_hz=360, lazy_blocks=lazy)
        idle, orig = [], ds._feed_piece

        def feed_piece(piece, *bridge, ds=ds, orig=orig, idle=idle):
            idle.append(ds.expected + piece.size < ds.next_due_index())
            return orig(piece, *bridge)

        ds._feed_piece = feed_piece
        got[lazy] = [_unstamped(ds.process(i, x[i:i + 7])) for i in range(0, x.shape[0], 7)]
        if lazy:
            assert ds.timer.calls["preprocess"] == len(idle) > 200
            assert not any(idle)
    assert got[True] == got[False]
    assert sum(map(len, got[True])) > 100


def test_hr_event_reads_a_240_bpm_tachycardia_at_its_rate(classifier):
    """Issue 16: 10 s at 75 bpm, 30 s of a regular 240 bpm tachycardia (RR 250 ms, the
    detector's pre-blank), 20 s at 75 bpm; the ``hr`` events inside the run read 240 bpm.
    The detector without its fast-rhythm mode (fast_beats=0) lost the beats its 250-ms
    pre-blank caught and read 193-222 bpm (measured)."""
    from edge.dsp.rpeak import DetectorConfig, RPeakDetector

    fs = 360.0
    rng = np.random.default_rng(0)
    b = list(np.arange(0.5, 10.0, 0.8))
    b += list(np.arange(b[-1] + 0.25, 40.0, 0.25))
    b += list(np.arange(b[-1] + 0.8, 59.5, 0.8))
    t = np.arange(int(60 * fs)) / fs
    x = 0.05 * np.sin(2 * np.pi * 0.3 * t) + 0.01 * rng.standard_normal(t.size)
    for r in b:
        a = 1.2 * (1 + 0.1 * rng.standard_normal())
        x += (a * np.exp(-0.5 * ((t - r) / 0.012) ** 2)
              - 0.25 * a * np.exp(-0.5 * ((t - r - 0.03) / 0.01) ** 2)
              + 0.3 * a * np.exp(-0.5 * ((t - r - 0.22) / 0.04) ** 2))

    def hr_in_run(fast_beats, step=144):
        ds = DeviceStream(classifier, load_config(None, CFG), device_id=1, fs_hz=fs)
        if fast_beats is not None:
            ds.pipeline.detector = RPeakDetector(DetectorConfig(fast_beats=fast_beats))
        ev = run(ds, x[:, None], step=step)
        hr = [e for e in ev if e.type == "hr"]
        # events whose 10-s rate window lies inside the run (25, 30, 35, 40 s)
        return ([e.hr_bpm for e in hr if 25 * fs <= e.sample_index + 1 <= 40 * fs],
                [e.sample_index for e in beats(ev)])

    got, b144 = hr_in_run(None)
    assert len(got) == 4 and all(abs(v - 240.0) <= 5.0 for v in got), got  # measured: 240.0
    assert hr_in_run(None, step=7)[1] == b144 == hr_in_run(None, step=3600)[1]
    old, _ = hr_in_run(0)
    assert len(old) == 4 and max(old) < 230.0, old


def test_the_cached_due_index_is_always_the_fresh_one(classifier, rec207_flutter):
    """The block-end test reads next_due_index() from a cache dropped whenever a stage's
    state changes (processing, flush, restart): after every call -- 20-ms frames, a filled
    and a reset gap, the flush -- the cached value equals a fresh computation."""
    cfg = load_config(None, CFG + ["pipeline.min_block_ms=100"])
    ds = DeviceStream(classifier, cfg, device_id=1, fs_hz=360)
    x = rec207_flutter[:int(120 * 360)]
    checked = 0
    orig = ds.process

    def process(start, chunk):
        nonlocal checked
        events = orig(start, chunk)
        if ds._due_cache is not None:
            assert ds._due_cache == ds.next_due_index()
            checked += 1
        if ds._detect_cache is not None:
            assert ds._detect_cache == ds.next_detection_index()
        return events

    ds.process = process
    _per_call(ds, x, (7,))
    assert ds._due() == ds.next_due_index()  # after the flush
    assert checked > 1000


def test_svt_runs_in_the_daemon_on_a_real_svdb_excerpt(classifier, svdb_dir):
    """SVDB 865, 600-800 s (128 Hz): sinus rhythm, then runs of supraventricular tachycardia
    whose beats after the first come on time for the run. With [rhythm.svt] on, more beats
    are reported S, each one an N call of the model that the reference calls S, and more
    ``svt`` alerts are raised; 23-ms frames and 1-s chunks give the same events. The alarm
    chain is off: the VF stage raises a (false) ``vfib`` alert in the artefact-ridden fast
    stretch from 133 s, and the svt alerts dated inside it would wait under it
    (tests/edge/runtime/test_chain.py)."""
    from edge.io.records import read_annotations, read_record

    rec = read_record("865", data_dir=svdb_dir, sampfrom=128 * 600, sampto=128 * 800)
    ann = read_annotations("865", "atr", data_dir=svdb_dir)
    x = rec.signal_mv[:, :1]
    out, streams = {}, {}
    for on, step in (("true", 3), ("false", 3), ("true", 128)):
        cfg = load_config(None, CFG + [f"rhythm.svt.enabled={on}", "rhythm.alarm_chain=false"])
        streams[on, step] = DeviceStream(classifier, cfg, device_id=1, fs_hz=128)
        out[on, step] = run(streams[on, step], x, step=step)
    def svt_alerts(events):
        return [(e.state, e.sample_index) for e in events if e.type == "alert" and e.kind == "svt"]

    def calls(events):
        return [(e.sample_index, e.label) for e in beats(events)]
    assert calls(out["true", 3]) == calls(out["true", 128])
    assert svt_alerts(out["true", 3]) == svt_alerts(out["true", 128])
    b_on, b_off = beats(out["true", 3]), beats(out["false", 3])
    assert [e.sample_index for e in b_on] == [e.sample_index for e in b_off]
    changed = [(a, b) for a, b in zip(b_on, b_off) if a.label != b.label]
    assert len(changed) >= 30
    assert all(a.label == "S" and b.label == "N" for a, b in changed)
    assert streams["true", 3].rhythm.n_svt_calls == len(changed)  # status: svt_run_calls
    assert streams["false", 3].rhythm.n_svt_calls == 0
    ref_s = {int(s) - 128 * 600 for s, sym in zip(ann.sample_index, ann.symbol) if sym == "S"}
    near = [any(abs(a.sample_index - s) <= 19 for s in ref_s) for a, _ in changed]  # 150 ms
    assert sum(near) >= 0.95 * len(changed)
    assert len(svt_alerts(out["true", 3])) > len(svt_alerts(out["false", 3]))


def test_a_sinus_pause_raises_a_pause_at_any_chunking(classifier, mitdb_dir):
    """MIT-BIH 232, first 300 s: the reference holds six sinus pauses over 2.5 s (24.8, 39.8,
    56.0, 161.2, 239.5, 283.4 s). The ones at 239.5 and 283.4 s hold a QRS-less quality window
    that was graded "noisy" (its HF / QRS-band ratio read the recorder's floor), so their
    intervals were not trusted and raised nothing; they are quiet windows now. (39.8 s: the
    detector finds a beat inside the pause.)"""
    from edge.io.records import read_record

    x = read_record("232", data_dir=mitdb_dir, sampto=360 * 300).signal_mv[:, :1]
    got = {}
    for step, floor in ((3600, 0.015), (7, 0.015), (3600, 0.0)):
        cfg = load_config(None, CFG + [f"quality.quiet_hf_rms_mv={floor}"])
        ev = run(DeviceStream(classifier, cfg, device_id=1, fs_hz=360.0), x, step=step)
        got[step, floor] = [round(e.sample_index / 360, 1) for e in ev
                            if e.type == "alert" and e.kind == "pause"]
    assert got[3600, 0.015] == got[7, 0.015] == [24.8, 56.0, 161.2, 239.5, 283.4]
    assert got[3600, 0.0] == [24.8, 56.0, 161.2]


@pytest.mark.parametrize("phase", [0, 3, 7])
def test_a_frame_lost_every_second_from_the_start_does_not_blind_the_detector(
        classifier, mitdb_dir, phase):
    """Audit (session 49): with the fourth 0.1-s frame of every second lost from the first
    second, every half second of the detector's 2-s learning window was reached by a bridged
    gap, learning waited for ever, and a 60-s run gave no beat, no rate and no alarm."""
    from edge.io.records import read_annotations, read_record

    x = read_record("233", channels=[0], sampto=360 * 60, data_dir=mitdb_dir).signal_mv
    ann = read_annotations("233", data_dir=mitdb_dir, sampto=360 * 60)
    n_ref = int(np.isin(ann.symbol, list("NLRVAFejaJESQ/f")).sum())
    ds = DeviceStream(classifier, load_config(None, CFG), device_id=1, fs_hz=360.0)
    ev = []
    for k, i in enumerate(range(0, x.shape[0], 36)):
        if k % 10 != phase or k == 0:
            ev += ds.process(i, x[i:i + 36])
    ev += ds.flush()
    assert ds.n_gaps >= 59
    assert len(beats(ev)) >= 0.8 * n_ref
    assert any(e.type == "hr" and e.hr_bpm is not None for e in ev)


def test_lost_frames_are_bridged_and_the_beats_around_them_kept(classifier, mitdb_dir):
    """Record 119 (bigeminy) in 0.1-s frames of which 5 % never arrive: the gaps are bridged
    (pipeline.bridge_gaps), so the beats next to them are found and classified and the
    bigeminy is still raised; with bridge_gaps=false (blanked, as before) a quarter of the
    beats were lost. Every output is the same whatever the block size."""
    from edge.io.records import read_annotations, read_record

    x = read_record("119", channels=[0], sampto=360 * 120, data_dir=mitdb_dir).signal_mv
    ann = read_annotations("119", data_dir=mitdb_dir)
    keep = [(i, s) for i, s in zip(ann.sample_index, ann.symbol) if s in "NV" and i < x.shape[0]]
    ref = np.array([i for i, _ in keep])
    drop = np.random.default_rng(7).random(x.shape[0] // 36 + 1) < 0.05
    drop[0] = False
    lost = np.repeat(drop, 36)[:x.shape[0]]
    received = ref[~lost[ref]]
    n_v = sum(s == "V" and not lost[i] for i, s in keep)

    def replay(settings):
        ds = DeviceStream(classifier, load_config(None, CFG + list(settings)), device_id=1,
                          fs_hz=360.0)
        ev = []
        for k, i in enumerate(range(0, x.shape[0], 36)):
            if not drop[k]:
                ev += ds.process(i, x[i:i + 36])
        return ev + ds.flush(), ds

    def found(ev):
        at = np.array([e.sample_index for e in beats(ev)])
        return int(sum(np.abs(at - r).min() <= 54 for r in received)), at.size

    ev, ds = replay([])
    assert ds.n_gaps > 50
    n_found, n_beats = found(ev)
    assert n_found >= 0.98 * received.size and n_beats <= n_found + 2
    labels = [e.label for e in beats(ev)]
    assert labels.count("Q") <= 0.15 * len(labels) and labels.count("V") >= 0.8 * n_v, n_v
    assert any(e.type == "alert" and e.kind == "bigeminy" for e in ev)
    blind, _ = replay(["pipeline.bridge_gaps=false"])
    assert found(blind)[0] < 0.85 * received.size
    for block in (0, 1000):  # beats and alerts the same, in the same order
        other, _ = replay([f"pipeline.min_block_ms={block}"])
        assert _unstamped(e for e in other if e.type in ("beat", "alert")) == _unstamped(
            e for e in ev if e.type in ("beat", "alert"))


def test_a_lossy_link_warns_once_then_logs_gaps_at_info(classifier, rec100, caplog):
    import logging

    x = rec100.signal_mv[:360 * 20]
    ds = DeviceStream(classifier, load_config(None, CFG), device_id=1, fs_hz=360.0)
    with caplog.at_level(logging.INFO, logger="edge.runtime.device"):
        for i in range(0, x.shape[0], 36):
            if (i // 36) % 20 != 10:  # every 20th frame lost
                ds.process(i, x[i:i + 36])
        ds.flush()
    gaps = [r for r in caplog.records if "gap at" in r.getMessage()]
    assert len(gaps) == ds.n_gaps == 10
    assert [r.levelno for r in gaps] == [logging.WARNING] + [logging.INFO] * 9
    assert "later filled gaps are logged at INFO level" in gaps[0].getMessage()


def _lossy(classifier, x, loss: float, seed: int, frame: int = 36) -> tuple[list, DeviceStream]:
    """Replay ``x`` (360 Hz) through a device in ``frame``-sample frames, each lost with
    probability ``loss`` (never the first, seeded); its events and the stream."""
    drop = np.random.default_rng(seed).random(x.shape[0] // frame + 1) < loss
    drop[0] = False
    ds = DeviceStream(classifier, load_config(None, CFG), device_id=1, fs_hz=360.0)
    ev = []
    for k, i in enumerate(range(0, x.shape[0], frame)):
        if not drop[k]:
            ev += ds.process(i, x[i:i + frame])
    ev += ds.flush()
    return ev, ds


@pytest.mark.parametrize("loss", [0.05, 0.10])
def test_a_lossy_link_keeps_atrial_fibrillation_read_as_such(classifier, mitdb_dir, loss):
    """Record 203 (MIT-BIH DS1, AF throughout its first 280 s) with 5 or 10 % of its 0.1-s
    frames lost reads as it does without loss: AF confirmed once, after the first window,
    and held, the burden ~100 %. Intervals across the bridged gaps are readable time; one
    that may hide a lost beat is skipped by the rhythm windows, not a restart (restarts made
    the whole record NOISE, burden 0 or unknown), and not read as one long interval (a lost
    beat would look like irregularity)."""
    from collections import Counter

    from edge.io.records import read_record

    x = read_record("203", channels=[0], sampto=360 * 280, data_dir=mitdb_dir).signal_mv
    ev, ds = _lossy(classifier, x, loss, seed=2)
    assert ds.n_gaps > 100
    rhythm = [e.rhythm for e in beats(ev)]
    count = Counter(rhythm)
    assert count["AFIB"] >= 0.8 * len(rhythm) and count["NOISE"] == 0, count
    first = rhythm.index("AFIB")
    assert first < 80 and "N" not in rhythm[first:], count  # N only before the first window
    onsets = [e for e in ev if e.type == "alert" and e.kind == "afib" and e.state == "onset"]
    assert len(onsets) == 1
    assert [e for e in ev if e.type == "hr"][-1].af_burden_run >= 0.95


def test_a_lossy_link_keeps_the_heart_rate(classifier, rec100):
    """Record 100 (DS1) with 5 % of its 0.1-s frames lost: every ``hr`` event still has a
    rate, within 2 bpm of the rate without loss (intervals across the bridged gaps count;
    one that may hide a lost beat counts as the intervals it spans). Leaving every interval
    across a gap out left half the events without a rate and the others too fast."""
    x = rec100.signal_mv[:360 * 180]

    def rates(loss: float) -> list:
        ev, ds = _lossy(classifier, x, loss, seed=5)
        assert ds.n_gaps > (50 if loss else -1)
        return [(e.sample_index, e.hr_bpm) for e in ev if e.type == "hr"]

    clean, lossy = dict(rates(0.0)), dict(rates(0.05))
    both = [k for k in clean if clean[k] is not None and k in lossy]
    assert len(both) >= 15
    assert all(lossy[k] is not None for k in both)
    assert max(abs(lossy[k] - clean[k]) for k in both) < 2.0


def test_beats_next_to_lost_frames_are_flagged_link_gap_not_lead_off(classifier, rec100):
    """Record 100 (DS1, clean signal) with 5 % of its 0.1-s frames lost: the beats whose
    window or interval holds lost samples say ``link_gap`` (the radio), never ``lead_off``
    (which sends a nurse to the electrodes); without loss none says either."""
    from collections import Counter

    x = rec100.signal_mv[:360 * 120]

    def qualities(loss: float) -> Counter:
        ev, _ = _lossy(classifier, x, loss, seed=7)
        q = Counter(e.quality for e in beats(ev))
        assert sum(q.values()) > 120
        return q

    lossy = qualities(0.05)
    assert lossy["link_gap"] >= 5 and set(lossy) <= {"good", "link_gap"}, lossy
    assert set(qualities(0.0)) == {"good"}


def test_a_beat_whose_window_lost_samples_is_q_without_probabilities(classifier, rec100):
    """A window holding lost samples in its QRS core is not classified: its beat is ``Q``
    and every class probability is NaN (``null`` in JSON) -- it used to carry the network's
    answer for the damaged window, which contradicted the label."""
    import json

    from edge.events.model import event_to_json

    ev, _ = _lossy(classifier, rec100.signal_mv[:360 * 120], 0.05, seed=7)
    q = [e for e in beats(ev) if e.label == "Q"]
    assert q and all(all(np.isnan(p) for p in e.proba.values()) for e in q)
    assert set(json.loads(event_to_json(q[0]))["proba"].values()) == {None}
    others = [e for e in beats(ev) if e.label != "Q"]
    assert all(abs(sum(e.proba.values()) - 1.0) < 0.01 for e in others)


def test_an_episode_ended_by_a_restart_says_so(classifier, mitdb_dir):
    """Audit (session 49): AF episodes closed by a device restart or a rate change said
    'end of stream' while the stream went on."""
    from edge.io.records import read_record

    x = read_record("201", channels=[0], sampto=360 * 200, data_dir=mitdb_dir).signal_mv
    ds = DeviceStream(classifier, load_config(None, CFG), device_id=1, fs_hz=360.0)
    ev = []
    for i in range(0, 360 * 100, 360):
        ev += ds.process(i, x[i:i + 360])
    for i in range(360 * 100, 360 * 200, 360):  # the wearable restarted: its counter from 0
        ev += ds.process(i - 360 * 100, x[i:i + 360])
    ends = [e for e in ev if e.type == "alert" and e.kind == "afib" and e.state == "end"]
    assert ends and ends[0].detail["reason"] == ("pipeline restarted: sample counter went "
                                                 "back")


@pytest.mark.parametrize("fs_hz", [359.7, 719.6])
def test_beats_and_strip_stay_on_time_at_an_odd_rate(classifier, fs_hz):
    """Audit, session 50: at a rate with no ratio to 360 Hz of denominator <= 1000 (a
    calibrated clock) the stream was resampled at a rounded ratio and mapped back with the
    exact one: after 10 min the beats were 85 ms (359.7 Hz) and 238 ms (719.6 Hz) late, the
    strip likewise. Now the beats' and the strip's R peaks stay where they were at the start."""
    from tests.edge.dsp.ecg_support import offsets_ms, synthetic_ecg

    x, truth_s = synthetic_ecg(fs_hz, 600.0)
    ds = DeviceStream(classifier, load_config(None, CFG), device_id=1, fs_hz=fs_hz)
    ev = run(ds, x[:, None], step=int(fs_hz))
    b = np.array([e.sample_index for e in beats(ev)])
    assert b.size >= truth_s.size - 1
    off = offsets_ms(b, truth_s, fs_hz)[1:]  # the first beat comes before the detector learnt
    n = off.size // 6
    assert np.abs(off).max() < 12.0  # measured 6.3 +- 3 ms
    assert abs(np.median(off[-n:]) - np.median(off[:n])) < 1.0
    strip = [e for e in ev if e.type == "strip"]
    t_s = np.concatenate([e.sample_index / fs_hz + np.arange(len(e.samples_mv)) / e.strip_fs_hz
                          for e in strip])
    v = np.array([np.nan if s is None else s for e in strip for s in e.samples_mv])
    peak = np.flatnonzero((v[1:-1] > 0.5) & (v[1:-1] >= v[:-2]) & (v[1:-1] > v[2:])) + 1
    off = offsets_ms(t_s[peak] * fs_hz, truth_s, fs_hz)[1:]
    assert abs(np.median(off[-n:]) - np.median(off[:n])) < 3.0  # a strip sample is 11 ms
