"""Rolling heart rate: the window, the plausibility and clean rules, and intervals across a
link gap that may hide a beat (counted as the intervals they most likely hold)."""
from __future__ import annotations

import numpy as np
import pytest

from edge.dsp.rate import RateConfig, RollingRate
from edge.errors import ConfigError


def _feed(rate: RollingRate, rr_s, **kw) -> float | None:
    t = 0.0
    out = None
    for rr in rr_s:
        t += rr
        out = rate.process(t, rr, **kw)
    return out


def test_mean_rate_over_the_window_and_min_beats():
    rate = RollingRate(RateConfig(window_s=10.0, min_beats=4))
    assert _feed(rate, [0.8] * 3) is None  # three intervals: too few
    assert _feed(rate, [0.8]) == pytest.approx(75.0)
    assert _feed(rate, [0.5] * 40) == pytest.approx(120.0)  # the 0.8-s ones left the window
    assert rate.n_beats == 21  # beats within 10 s of the last, inclusive


def test_unclean_and_implausible_intervals_are_left_out():
    rate = RollingRate()
    _feed(rate, [0.8] * 8)
    t = 6.4
    for rr, clean in [(0.1, True), (4.0, True), (float("nan"), True), (0.3, False)]:
        t += 0.8
        assert rate.process(t, rr, clean) == pytest.approx(75.0)
    assert rate.n_beats == 8


def test_an_interval_that_may_hide_a_beat_counts_as_the_intervals_it_spans():
    rate = RollingRate()
    _feed(rate, [0.8] * 8)
    # 1.6 s across a gap with a lost beat in it: two intervals, the rate stays 75 bpm
    assert rate.process(8.0, 1.6, may_hide_beat=True) == pytest.approx(75.0)
    # 0.9 s across a gap: one interval (nothing lost)
    assert rate.process(8.9, 0.9, may_hide_beat=True) == pytest.approx(60 * 11 / 8.9)
    # the same 1.6 s read as one interval would be a slower rate
    plain = RollingRate()
    _feed(plain, [0.8] * 8)
    assert plain.process(8.0, 1.6) == pytest.approx(60 * 9 / 8.0)
    # the first interval of a window has no mean to go by: one interval
    first = RollingRate(RateConfig(min_beats=1))
    assert first.process(1.6, 1.6, may_hide_beat=True) == pytest.approx(37.5)


def test_the_count_leaves_the_window_with_its_interval():
    rate = RollingRate(RateConfig(window_s=5.0, min_beats=1))
    _feed(rate, [0.8] * 5)
    rate.process(5.6, 1.6, may_hide_beat=True)  # two intervals
    t = 5.6
    for _ in range(10):
        t += 1.0
        out = rate.process(t, 1.0)
    assert out == pytest.approx(60.0) and rate.n_beats == 6


def test_random_frame_loss_leaves_the_rate_unbiased():
    """An irregular rhythm (intervals 0.5-1.1 s) over a link losing 5 % of its 0.1-s frames:
    a beat in a lost frame is lost, and an interval with a lost frame in it may hide one.
    Counting those intervals as the intervals they span reads the true rate (within 1 bpm);
    leaving them out reads it too fast (the longer an interval, the likelier a gap falls in
    it: the ones left are the shorter ones), and reading each as one interval too slow."""
    rng = np.random.default_rng(0)
    rr = rng.uniform(0.5, 1.1, 20_000)
    t = np.cumsum(rr)
    frame_lost = rng.random(int(t[-1] / 0.1) + 2) < 0.05
    frame = (t / 0.1).astype(int)
    kept = ~frame_lost[frame]
    at, fr = t[kept], frame[kept]
    span = np.diff(at)
    lost_before = np.r_[0, np.cumsum(frame_lost)]  # lost frames before each frame
    gap = lost_before[fr[1:]] - lost_before[fr[:-1] + 1] > 0  # a lost frame in between
    truth = 60.0 / rr.mean()

    def mean_rate(mode: str) -> float:
        rate = RollingRate(RateConfig(window_s=10.0))
        out = []
        for end, s, g in zip(at[1:], span, gap):
            if mode == "count":
                r = rate.process(end, s, may_hide_beat=bool(g))
            elif mode == "leave_out":
                r = rate.process(end, s, not g)
            else:
                r = rate.process(end, s)
            out.append(r)
        return float(np.mean([r for r in out[20:] if r is not None]))

    assert abs(mean_rate("count") - truth) < 1.0
    assert mean_rate("leave_out") > truth + 1.0
    assert mean_rate("as_one") < truth - 2.0


@pytest.mark.parametrize("kw, field", [
    ({"window_s": 0.0}, "window_s"),
    ({"min_beats": 0}, "min_beats"),
    ({"min_rr_s": 3.0}, "min_rr_s"),
])
def test_config_rules_name_the_field(kw, field):
    with pytest.raises(ConfigError) as info:
        RateConfig(**kw)
    assert info.value.field == field
