import io

from edge.errors import SinkError
from edge.sinks import (
    EventSink,
    JsonLinesSink,
    RotatingJsonlSink,
    SinkSet,
    TerminalSink,
    WfdbAnnotationSink,
)


def test_sinkset_isolates_a_failing_sink(beat):
    class Broken:
        name = "broken"

        def emit(self, e):
            raise SinkError("broken", "disk full")

        flush = reopen = close = lambda self: None

    buf = io.StringIO()
    ss = SinkSet([Broken(), JsonLinesSink(buf)])
    ss.emit(beat(1))
    ss.emit(beat(2))
    assert ss.errors["broken"] == 2 and len(buf.getvalue().splitlines()) == 2


def test_every_sink_implements_the_protocol(tmp_path):
    sinks = [TerminalSink(io.StringIO()), JsonLinesSink(io.StringIO()),
             RotatingJsonlSink(tmp_path / "e.jsonl"), WfdbAnnotationSink(tmp_path, "r"),
             SinkSet([])]
    for sink in sinks:
        assert isinstance(sink, EventSink), type(sink).__name__
        sink.close()
    assert not isinstance(object(), EventSink)


def test_public_names_are_reexported():
    import edge.sinks

    for name in edge.sinks.__all__:
        assert getattr(edge.sinks, name) is not None
