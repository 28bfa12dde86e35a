"""edge.io.records: WFDB records in physical units; invalid samples read as NaN."""
import numpy as np
import pytest
import wfdb

from edge.io.records import INVALID_ADC, read_record


@pytest.mark.parametrize("fmt", ["16", "212"])
def test_wfdb_invalid_samples_are_nan(tmp_path, fmt):
    """WFDB stores a missing sample as its format's invalid value; read as a number it was a
    -160 mV step (issue 14, bad input 9: a NaN gap went unnoticed)."""
    x = np.sin(np.linspace(0, 20, 2000))[:, None] * np.array([[1.0, 0.5]])
    x[500:700, 0] = np.nan
    wfdb.wrsamp("gap", fs=360, units=["mV", "mV"], sig_name=["a", "b"], p_signal=x,
                fmt=[fmt, fmt], adc_gain=[200.0, 200.0], baseline=[0, 0],
                write_dir=str(tmp_path))
    rec = read_record(tmp_path / "gap")
    assert np.isnan(rec.signal_mv[500:700, 0]).all()
    assert np.isfinite(rec.signal_mv[:500]).all() and np.isfinite(rec.signal_mv[:, 1]).all()
    assert (rec.adc[500:700, 0] == INVALID_ADC[fmt]).all()  # the raw values stay as stored
    np.testing.assert_allclose(rec.signal_mv[:500, 0], x[:500, 0], atol=0.01)


def test_mitdb_record_has_no_nan(mitdb_dir):
    rec = read_record("100", data_dir=mitdb_dir, sampto=3600)
    assert np.isfinite(rec.signal_mv).all() and rec.signal_mv.shape == (3600, 2)
