"""training.nst: noise added by the Noise Stress Test protocol at the stated SNR."""
from __future__ import annotations

import numpy as np
import pytest

from edge.errors import ConfigError
from training.nst import nst_noise, nst_scale


def test_nst_noise_follows_the_protocol(rng):
    fs = 360.0
    n = int(15 * 60 * fs)
    beats = np.arange(200, n - 200, 300)
    x = np.zeros(n)
    x[beats] = 1.0  # 1 mV spikes: QRS peak-to-peak 1 mV
    noise = rng.standard_normal(100_000)
    for snr in (0.0, 6.0):
        y = nst_noise(x, beats, noise, snr, offset=123)
        d = y - x
        minute = d.reshape(-1, int(60 * fs))
        noisy = np.array([m.std() > 0 for m in minute])
        # minutes 0-4 clean, then 2 noisy / 2 clean
        assert noisy.tolist() == [False] * 5 + [True, True, False, False] * 2 + [True, True]
        s_over_n = (1.0 ** 2 / 8) / d[noisy.repeat(int(60 * fs))].var()
        assert 10 * np.log10(s_over_n) == pytest.approx(snr, abs=0.3)


def test_nst_scale_puts_the_noise_at_the_snr(rng):
    x = np.zeros(36_000)
    beats = np.arange(100, 35_900, 300)
    x[beats] = 2.0  # 2 mV peak-to-peak: S = 4 / 8
    noise = rng.standard_normal(x.size)
    g = nst_scale(x, beats, noise, 12.0)
    assert 10 * np.log10(0.5 / (g * noise).var()) == pytest.approx(12.0, abs=1e-9)


def test_a_zero_segment_is_refused():
    """A zero segment length made the segment loop step by 0 (Python's range ValueError)."""
    x = np.zeros(1000)
    with pytest.raises(ConfigError, match="segment_s"):
        nst_noise(x, np.array([100, 400]), np.ones(10), 6.0, segment_s=0.0)


def test_running_the_module_says_it_has_no_command_line():
    """Session 44 script audit: `python -m training.nst` printed nothing and exited 0."""
    import subprocess
    import sys
    from pathlib import Path

    p = subprocess.run([sys.executable, "-m", "training.nst"], capture_output=True, text=True,
                       cwd=Path(__file__).resolve().parents[2], timeout=120)
    assert p.returncode == 2 and p.stdout == ""
    assert p.stderr.startswith("python -m training.nst: a library module with no command line")
