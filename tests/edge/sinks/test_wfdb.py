import pytest
import wfdb

from edge.errors import ConfigError
from edge.sinks.wfdb import WfdbAnnotationSink, WfdbSinkSettings


def test_wfdb_sink_writes_beats(tmp_path, beat):
    s = WfdbAnnotationSink(tmp_path, "rec", ext="tst")
    for i, lab in [(100, "N"), (400, "V"), (700, "S")]:
        s.emit(beat(i, lab))
    s.close()
    ann = wfdb.rdann(str(tmp_path / "rec"), "tst")
    assert list(ann.sample) == [100, 400, 700] and ann.symbol == ["N", "V", "S"]
    assert ann.fs == 360


@pytest.mark.parametrize("kw,field", [({"ext": "c.s"}, "ext"),
                                      ({"record_name": "a/b"}, "record_name")])
def test_settings_rules(kw, field):
    with pytest.raises(ConfigError) as err:
        WfdbSinkSettings(**kw)
    assert err.value.field == field
