"""edge.cli.common: what the sub-commands share."""
import numpy as np
import pytest

from edge.cli.common import read_channel
from edge.errors import EdgeError
from edge.io.records import read_record


def test_one_channel_is_that_column_of_the_whole_record(mitdb_dir):
    whole = read_record("100", data_dir=mitdb_dir)
    for ch in (0, 1):
        one = read_channel("100", ch, mitdb_dir)
        assert one.signal_mv.shape == (whole.n_samples, 1)
        np.testing.assert_array_equal(one.signal_mv[:, 0], whole.signal_mv[:, ch])
        assert one.sig_names == (whole.sig_names[ch],) and one.fs_hz == whole.fs_hz


def test_a_channel_the_record_lacks_names_the_option(mitdb_dir):
    with pytest.raises(EdgeError, match=r"--channel 2: record 100 has 2 channels \(0..1\)"):
        read_channel("100", 2, mitdb_dir)
