import pytest

from edge.events.model import BeatEvent, Sequencer


def stamped_beat(i, label="N", dev=1, fs=360.0):
    """A stamped beat event at sample ``i``."""
    return Sequencer().stamp(BeatEvent(device_id=dev, sample_index=i, fs_hz=fs, label=label,
                                       proba={c: 0.2 for c in "NSVFQ"},
                                       rr_s={"pre": 0.8, "post": 0.8, "local": 0.8,
                                             "long": 0.8}))


@pytest.fixture
def beat():
    """Factory of stamped beat events: ``beat(sample_index, label="N", dev=1, fs=360.0)``."""
    return stamped_beat
