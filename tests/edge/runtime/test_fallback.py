"""The local fallback of the alarm path: when it is raised and cleared, the hook commands
(real processes), their failures, and the settings' rules."""
import io
import sys
import time

import pytest

from edge.errors import ConfigError
from edge.runtime.fallback import AlarmFallback, AlarmFallbackSettings
from edge.runtime.settings import load_config
from edge.sinks.base import AlarmBacklog

NOW = 1_800_000_000.0


def backlog(pending, age_s, connected=False, at=NOW):
    """``pending`` alerts, the oldest ``age_s`` old at Unix time ``at``."""
    return AlarmBacklog(sink="mqtt:test", pending=pending,
                        oldest_s=at - age_s if pending else None, connected=connected)


def recorder(path):
    """A hook command that appends its state and waiting count to ``path``."""
    code = ("import os,sys; open(sys.argv[1],'a').write(os.environ['ECG_EDGE_ALARM_STATE'] + "
            "' ' + os.environ['ECG_EDGE_ALARMS_WAITING'] + chr(10))")
    return (sys.executable, "-c", code, str(path))


def wait_lines(fb, path, n, timeout_s=20.0):
    """The hook log once it has ``n`` lines (the fallback starts queued hooks on poll)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        fb.poll()
        if path.exists() and len(path.read_text().splitlines()) >= n:
            break
        time.sleep(0.02)
    return path.read_text().splitlines() if path.exists() else []


def test_raised_after_the_configured_wait_then_cleared_on_delivery(tmp_path):
    out = tmp_path / "hook.log"
    bell = io.StringIO()
    fb = AlarmFallback(AlarmFallbackSettings(after_s=10.0, command=recorder(out),
                                             clear_command=recorder(out), repeat_s=0),
                       bell_stream=bell)
    assert fb.check(NOW, [backlog(0, 0)], device_id=1) == []
    assert fb.check(NOW, [backlog(2, 9.9)], device_id=1) == []  # not yet
    evs = fb.check(NOW, [backlog(2, 10.0)], device_id=1)
    assert [(e.type, e.state, e.device_id) for e in evs] == [("link", "alarms_delayed", 1)]
    assert "2 alert(s) not delivered for 10.0 s" in evs[0].detail
    assert "mqtt:test (link down)" in evs[0].detail
    assert fb.delayed and "\a" in bell.getvalue()
    assert fb.check(NOW + 5, [backlog(3, 15.0, at=NOW + 5)], device_id=1) == []  # raised once
    evs = fb.check(NOW + 8, [backlog(0, 0)], device_id=1)
    assert [e.state for e in evs] == ["alarms_delivered"]
    assert "the oldest alert waited 15.0 s" in evs[0].detail
    assert wait_lines(fb, out, 2) == ["delayed 2", "delivered 0"]
    fb.close()
    c = fb.counters()
    assert c == {"delayed": False, "warnings": 1, "delivered": 1, "hook_runs": 2,
                 "hook_failures": 0}


def test_repeats_while_alerts_still_wait(tmp_path):
    out = tmp_path / "hook.log"
    fb = AlarmFallback(AlarmFallbackSettings(after_s=1.0, command=recorder(out), repeat_s=30,
                                             bell=False))
    assert len(fb.check(NOW, [backlog(1, 2.0)], device_id=0)) == 1
    assert fb.check(NOW + 29, [backlog(1, 31.0, at=NOW + 29)], device_id=0) == []
    assert fb.check(NOW + 30, [backlog(1, 32.0, at=NOW + 30)], device_id=0) == []  # no new event...
    assert wait_lines(fb, out, 2) == ["delayed 1", "delayed 1"]  # ...but the hook again
    fb.close()


def test_an_alert_lost_before_the_outbox_raises_the_fallback_at_once(tmp_path):
    """Audit (session 49): on a full disk 70 alerts failed to reach the outbox; the fallback
    watched only queued alerts, so no hook ran and no alarms_delayed was emitted."""
    out = tmp_path / "hook.log"
    fb = AlarmFallback(AlarmFallbackSettings(after_s=10.0, command=recorder(out),
                                             clear_command=recorder(out), repeat_s=0,
                                             bell=False))

    def lost(n, at):
        return [AlarmBacklog(sink="mqtt:test", pending=0, oldest_s=None, connected=True,
                             lost=n)]

    assert fb.check(NOW, lost(0, NOW), device_id=1) == []
    evs = fb.check(NOW + 1, lost(2, NOW + 1), device_id=1)  # no wait for after_s
    assert [e.state for e in evs] == ["alarms_delayed"] and "2 alert(s) LOST" in evs[0].detail
    assert fb.delayed
    assert fb.check(NOW + 2, lost(3, NOW + 2), device_id=1) == []  # raised once
    assert fb.check(NOW + 11, lost(3, NOW + 11), device_id=1) == []  # a loss 9 s ago
    evs = fb.check(NOW + 12.5, lost(3, NOW + 12.5), device_id=1)
    assert [e.state for e in evs] == ["alarms_delivered"]
    assert "3 alert(s) lost since the start" in evs[0].detail
    assert wait_lines(fb, out, 2) == ["delayed 2", "delivered 0"]
    fb.close()


def test_the_worst_of_several_sinks_counts():
    fb = AlarmFallback(AlarmFallbackSettings(after_s=5.0, bell=False))
    evs = fb.check(NOW, [backlog(1, 1.0, connected=True), backlog(2, 6.0)], device_id=3)
    assert len(evs) == 1 and "3 alert(s)" in evs[0].detail


def test_disabled_never_raises():
    fb = AlarmFallback(AlarmFallbackSettings(enabled=False))
    assert fb.check(NOW, [backlog(5, 1000.0)], device_id=1) == []


def test_failing_missing_and_hanging_commands_are_counted_not_fatal(tmp_path, caplog):
    fb = AlarmFallback(AlarmFallbackSettings(after_s=1.0, bell=False, repeat_s=0,
                                             command=(sys.executable, "-c", "exit(3)"),
                                             clear_command=("/nonexistent/hook",)))
    fb.check(NOW, [backlog(1, 2.0)], device_id=1)
    fb.check(NOW + 1, [backlog(0, 0)], device_id=1)  # the clear command cannot start
    fb.close()
    assert fb.counters()["hook_runs"] == 2 and fb.counters()["hook_failures"] == 2
    assert "exited with status 3" in caplog.text and "/nonexistent/hook" in caplog.text
    slow = AlarmFallback(AlarmFallbackSettings(after_s=1.0, bell=False, command_timeout_s=0.2,
                                               command=(sys.executable, "-c",
                                                        "import time; time.sleep(30)")))
    slow.check(NOW, [backlog(1, 2.0)], device_id=1)
    deadline = time.monotonic() + 20
    while slow.counters()["hook_failures"] == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
        slow.check(NOW + 1, [backlog(1, 3.0)], device_id=1)
    assert slow.counters()["hook_failures"] == 1 and "killed" in caplog.text


@pytest.mark.parametrize("kw,field", [
    ({"after_s": 0}, "after_s"),
    ({"repeat_s": 0.5}, "repeat_s"),
    ({"command_timeout_s": 0}, "command_timeout_s"),
    ({"command": ("",)}, "command"),
    ({"clear_command": ["x"]}, "clear_command"),
    ({"bell": "yes"}, "bell"),
])
def test_rules_name_the_field(kw, field):
    with pytest.raises(ConfigError) as err:
        AlarmFallbackSettings(**kw)
    assert err.value.field == field


def test_the_table_in_the_configuration_and_a_missing_program():
    cfg = load_config(None, ['source.kind="replay"', 'source.replay.record="100"',
                             "alarm_fallback.after_s=5",
                             'alarm_fallback.command=["beep-nonexistent-xyz", "-f", "880"]'])
    assert cfg.alarm_fallback.after_s == 5.0
    assert cfg.alarm_fallback.command == ("beep-nonexistent-xyz", "-f", "880")
    with pytest.raises(ConfigError) as err:
        cfg.alarm_fallback.check_commands()
    assert err.value.field == "alarm_fallback.command"
    with pytest.raises(ConfigError) as err:
        load_config(None, ['source.kind="replay"', 'source.replay.record="100"',
                           'alarm_fallback.command="beep"'])
    assert err.value.field == "alarm_fallback.command"
