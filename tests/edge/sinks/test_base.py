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


def test_a_stream_whose_reader_went_away_leaves_the_set(beat):
    """Session 50 audit: ``ecg-edge run --json | head -1`` counted a broken pipe per event
    for the whole record (4,442 errors, exit 1). The stream sink now leaves the set at the
    first one, once, without an error; the other sinks go on."""
    class ClosedPipe(io.StringIO):
        def write(self, text):
            raise BrokenPipeError(32, "Broken pipe")

    buf = io.StringIO()
    ss = SinkSet([JsonLinesSink(ClosedPipe()), JsonLinesSink(buf)])
    for i in range(5):
        ss.emit(beat(i))
    ss.flush()
    assert ss.pipes_closed == ["stdout"] and len(ss.sinks) == 1
    assert ss.errors["stdout"] == 0 and len(buf.getvalue().splitlines()) == 5
    only = SinkSet([TerminalSink(ClosedPipe(), color="never")])
    only.emit(beat(1))
    assert only.pipes_closed == ["terminal"] and only.sinks == []


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
