"""edge.pipeline: the stage hook, and beats next to invalid samples (a NaN gap)."""
import numpy as np
import pytest

from edge.errors import ConfigError
from edge.pipeline import STAGES, BeatPipeline, ClassifiedBeats, classify_at

FS = 360.0
GAP = slice(int(20 * FS), int(30 * FS))  # issue 14, bad input 9: seconds 20-30 of record 100


@pytest.fixture(scope="module")
def rec100(mitdb_dir):
    from edge.io.records import read_annotations, read_record

    n = int(90 * FS)
    x = read_record("100", data_dir=mitdb_dir, sampto=n).signal_mv[:, 0]
    ann = read_annotations("100", data_dir=mitdb_dir, sampto=n)
    beats = ann.sample_index[np.isin(ann.symbol, ["N", "A", "V"])]
    gapped = x.copy()
    gapped[GAP] = np.nan
    return x, gapped, beats


def _around_gap(idx):
    before = int(np.flatnonzero(idx < GAP.start)[-1])
    after = np.flatnonzero(idx >= GAP.stop)[:3]
    return before, after


def test_stage_hook_sees_every_stage_once_per_call(classifier, rec100):
    x = rec100[0][:int(20 * FS)]
    calls = []
    pipe = BeatPipeline(classifier, FS, on_stage=lambda name, s: calls.append((name, s)))
    n_chunks = 0
    for i in range(0, x.size, 360):
        pipe.process(x[i:i + 360])
        n_chunks += 1
    pipe.flush()
    names = [c[0] for c in calls]
    assert set(names) == set(STAGES)
    for stage in ("preprocess", "detect", "window"):
        assert names.count(stage) == n_chunks + 1
    assert names.count("featurize") == names.count("classify") >= 5
    assert all(s >= 0 for _, s in calls)
    assert pipe.conditioned.sample_index == x.size  # the last call's conditioned samples


def test_classify_at_a_nan_gap(classifier, rec100):
    """Reference beats: those whose window touches the gap are Q (unclassifiable), the beats
    around it are called as without the gap -- not V before it, not S after it."""
    x, gapped, beats = rec100
    clean = classify_at(classifier, x, FS, beats)
    out = classify_at(classifier, gapped, FS, beats)
    assert not clean.near_invalid.any()
    w = classifier.window
    centre = beats + w.align_samples
    inside = (centre + w.after_samples > GAP.start) & (centre - w.before_samples < GAP.stop)
    assert np.all(out.label[out.window_invalid] == "Q")
    np.testing.assert_array_equal(out.window_invalid, inside)
    before, after = _around_gap(beats)
    assert clean.label[before] == "N" and out.label[before] == "Q"  # its window reaches in
    for k in after:
        assert out.label[k] == clean.label[k] == "N", k
    assert out.rr_unknown[int(np.flatnonzero(~inside & (beats > GAP.stop))[0]), 0]
    # the RR interval across the gap is the local mean: no pause, no premature beat
    assert out.rr_s[after, 0].max() < 1.2
    assert not np.isin(out.label[out.near_invalid], ["V", "S"]).any()
    # beats away from the gap are called as without it
    far = (beats < GAP.start - 10 * FS) | (beats > GAP.stop + 20 * FS)
    assert np.mean(out.label[far] == clean.label[far]) > 0.98


def test_streaming_pipeline_at_a_nan_gap(classifier, rec100):
    x, gapped, _ = rec100
    clean = BeatPipeline(classifier, FS).run(x, 360)
    out = BeatPipeline(classifier, FS).run(gapped, 360)
    assert not clean.near_invalid.any()
    before, after = _around_gap(out.sample_index)
    assert out.near_invalid[before] and out.near_invalid[after[0]]
    assert out.rr_unknown[before, 1] and out.rr_unknown[after[0], 0]
    assert not np.isin(out.label[[before, *after]], ["V", "S"]).any()
    assert np.all(out.label[out.window_invalid] == "Q")
    assert not np.any((out.sample_index >= GAP.start) & (out.sample_index < GAP.stop))
    # chunking does not change anything
    again = BeatPipeline(classifier, FS).run(gapped, 97)
    np.testing.assert_array_equal(again.sample_index, out.sample_index)
    np.testing.assert_array_equal(again.label, out.label)
    np.testing.assert_array_equal(again.rr_unknown, out.rr_unknown)


def test_classified_beats_select_and_default_flags():
    b = ClassifiedBeats(np.arange(3), np.arange(3), np.array(["N", "V", "N"], object),
                        np.zeros((3, 5), np.float32), np.ones((3, 4), np.float32))
    assert b.window_invalid.shape == (3,) and b.rr_unknown.shape == (3, 2)
    assert not b.near_invalid.any()
    assert b.select(np.array([False, True, False])).label.tolist() == ["V"]


@pytest.mark.parametrize("chunk", [0, -1, 2.5])
def test_run_refuses_a_bad_chunk(classifier, chunk):
    with pytest.raises(ConfigError, match="chunk_samples"):
        BeatPipeline(classifier, FS).run(np.zeros(720), chunk)


def test_held_detection_gives_the_same_beats(classifier, rec100):
    """``process(x, detect=False)`` conditions the chunk and holds it for the detector; the
    next detecting call (or the flush) takes the held samples first: the same beats, and
    :attr:`detected` holds every conditioned sample exactly once."""
    x = rec100[1][:int(60 * FS)]  # with the NaN gap
    ref = BeatPipeline(classifier, FS).run(x, 250)
    pipe = BeatPipeline(classifier, FS)
    parts, seen = [], []
    for k, i in enumerate(range(0, x.size, 250)):
        detect = k % 4 == 3  # three chunks held, the fourth detects
        parts.append(pipe.process(x[i:i + 250], detect=detect))
        assert (pipe.held_samples == 0) if detect else (pipe.held_samples > 0)
        if len(pipe.detected):
            seen.append((pipe.detected.sample_index, len(pipe.detected)))
        assert len(parts[-1]) == 0 or detect
    parts.append(pipe.flush())
    seen.append((pipe.detected.sample_index, len(pipe.detected)))
    got = ClassifiedBeats.concatenate(parts)
    got = got.select((got.sample_index >= 0) & (got.sample_index < x.size))
    np.testing.assert_array_equal(got.sample_index, ref.sample_index)
    np.testing.assert_array_equal(got.label, ref.label)
    np.testing.assert_array_equal(got.proba, ref.proba)
    starts = [a for a, _ in seen]
    assert starts == sorted(starts) and all(a + n == b for (a, n), b in zip(seen, starts[1:]))
    assert pipe.held_samples == 0


def test_beats_of_a_wide_complex_tachycardia_are_classified(classifier):
    """CUDB cu03, 330-390 s (250 Hz): a regular ~120-bpm wide-complex rhythm the detector
    takes for flutter. The beat stream classifies its beats (``flutter_beats``, the default);
    ``flutter_beats=False`` drops them, as before. What the VF stage sees (``peaks``) is the
    same either way, and the beats are the same for any chunking."""
    from pathlib import Path

    from edge.eval.scoring import score_detection
    from edge.io.records import read_annotations, read_record

    path = Path(__file__).resolve().parents[1] / "data" / "cudb" / "cudb_cu03_excerpt"
    rec = read_record(str(path))
    x, fs = rec.signal_mv[:, 0], rec.fs_hz
    ref = read_annotations(str(path)).sample_index

    def run(chunk: int, **kw):
        pipe = BeatPipeline(classifier, fs, **kw)
        parts, veto_view = [], []
        for i in range(0, x.size, chunk):
            parts.append(pipe.process(x[i:i + chunk]))
            veto_view.append(pipe.peaks)
        parts.append(pipe.flush())
        veto_view.append(pipe.peaks)
        return ClassifiedBeats.concatenate(parts), np.concatenate(veto_view)

    beats, view = run(250)
    old, old_view = run(250, flutter_beats=False)
    np.testing.assert_array_equal(view, old_view)
    assert score_detection(ref, beats.sample_index, fs).fn <= 2  # measured 0 of 120
    assert score_detection(ref, old.sample_index, fs).fn >= 30  # measured 43
    other, _ = run(37)
    np.testing.assert_array_equal(other.sample_index, beats.sample_index)
    np.testing.assert_array_equal(other.label, beats.label)
