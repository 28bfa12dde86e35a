import numpy as np

from edge.dsp.buffer import SampleBuffer, SampleRows


def test_appends_trims_and_growth_keep_absolute_indices(rng):
    x = rng.standard_normal(20_000)
    buf = SampleBuffer(start=500)
    pos = 0
    for n in (1, 7, 36, 1024, 3000, 5, 9000, 6927):
        buf.append(x[pos:pos + n])
        pos += n
        buf.trim_before(500 + pos - 2500)  # keep a 2,500-sample look-back
        assert buf.end == 500 + pos
        lo = max(500, buf.end - 2500)
        assert buf.start == lo
        np.testing.assert_array_equal(buf.data, x[lo - 500:pos])
        a = max(lo, buf.end - 10)  # get() clips to what is held
        np.testing.assert_array_equal(buf.get(buf.end - 10, buf.end + 5), x[a - 500:pos])
    assert buf.get(0, 100).size == 0  # before the held samples


def test_bool_buffer_and_trim_past_the_end():
    buf = SampleBuffer(bool)
    buf.append(np.array([True, False, True]))
    assert buf.data.dtype == bool and buf.data.tolist() == [True, False, True]
    buf.trim_before(10)  # never beyond what is held: indices stay consistent
    assert (buf.start, buf.end) == (3, 3)
    buf.append(np.array([False]))
    assert buf.get(3, 4).tolist() == [False]


def test_rows_hold_what_one_buffer_per_row_holds(rng):
    x = rng.standard_normal((3, 20_000))
    rows, bufs = SampleRows(3, start=100), [SampleBuffer(start=100) for _ in range(3)]
    pos = 0
    for n in (1, 7, 36, 1024, 3000, 5, 9000, 6927):
        rows.append([x[k, pos:pos + n] for k in range(3)])
        for k in range(3):
            bufs[k].append(x[k, pos:pos + n])
        pos += n
        for b in (rows, *bufs):
            b.trim_before(100 + pos - 2500)
        assert (rows.start, rows.end) == (bufs[0].start, bufs[0].end)
        for a, z in ((0, 200), (rows.start - 5, rows.end + 5), (rows.end - 10, rows.end),
                     (rows.end, rows.end + 3)):
            for k in range(3):
                got = rows.get(k, a, z)
                assert got.flags.c_contiguous
                np.testing.assert_array_equal(got, bufs[k].get(a, z))
    rows.trim_before(10**6)  # never beyond what is held
    assert (rows.start, rows.end) == (100 + pos, 100 + pos)
