"""The durable outbox: order, acknowledgement, persistence across runs, the drop policy."""
import sqlite3
import threading
import time

import pytest

from edge.errors import ConfigError, OutboxError, SinkError
from edge.sinks.outbox import MEMORY, Outbox, OutboxConfig


def fill(ob, kinds):
    return [ob.append(f"ecg/1/{k}", f'{{"seq":{i}}}'.encode(), qos=1, retain=False,
                      event_type=k) for i, k in enumerate(kinds)]


def test_append_peek_ack_in_order(tmp_path):
    with Outbox(OutboxConfig(path=str(tmp_path / "o.sqlite"))) as ob:
        ids = fill(ob, ["beat", "strip", "alert", "hr"])
        assert ids == sorted(ids) and ob.pending == 4
        got = ob.peek(0, 10)
        assert [m.id for m in got] == ids and got[1].event_type == "strip"
        assert [m.id for m in ob.peek(ids[1], 1)] == [ids[2]]
        assert ob.ack([ids[0], ids[2], 999]) == 2
        assert [m.id for m in ob.peek()] == [ids[1], ids[3]]
        assert ob.stats()["acked"] == 2 and ob.pending_bytes > 0


def test_boots_grow_and_do_not_repeat_across_outbox_files(tmp_path, monkeypatch):
    """Audit (session 49): every new outbox started at boot 1, so two gateways with one
    device id (or a reinstalled one) published the same (device_id, boot, seq) and the
    store dropped one run as duplicates. Boots are now the start time in ms, and still grow
    when the clock reads earlier than the last start."""
    t0 = time.time() * 1000
    a = Outbox(OutboxConfig(path=str(tmp_path / "a.sqlite")))
    b = Outbox(OutboxConfig(path=str(tmp_path / "b.sqlite")))
    assert a.boot >= t0 and b.boot >= t0 and a.boot != 1
    a.close()
    monkeypatch.setattr(time, "time", lambda: 1000.0)  # a Pi's clock before NTP
    a2 = Outbox(OutboxConfig(path=str(tmp_path / "a.sqlite")))
    assert a2.boot == a.boot + 1
    a2.close()
    b.close()


def test_wal_mode_and_survives_reopen_with_a_new_boot(tmp_path):
    path = str(tmp_path / "o.sqlite")
    ob = Outbox(OutboxConfig(path=path))
    fill(ob, ["beat"] * 3)
    boot = ob.boot
    ob._db.execute("PRAGMA wal_checkpoint")  # noqa: SLF001 - the mode is what we check
    assert sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    ob.close()
    ob.close()  # idempotent
    with pytest.raises(OutboxError):
        ob.append("t", b"x", qos=1, retain=False, event_type="beat")
    ob2 = Outbox(OutboxConfig(path=path))
    assert ob2.boot > boot and ob2.pending == 3
    assert [m.payload for m in ob2.peek()] == [b'{"seq":0}', b'{"seq":1}', b'{"seq":2}']
    ob2.close()


def test_uncommitted_nothing_committed_everything(tmp_path):
    """Appends are committed before append() returns: another connection sees them."""
    path = str(tmp_path / "o.sqlite")
    with Outbox(OutboxConfig(path=path)) as ob:
        fill(ob, ["beat", "alert"])
        other = sqlite3.connect(path)
        assert other.execute("SELECT COUNT(*) FROM outbox").fetchone()[0] == 2
        other.close()


def test_drop_policy_strips_and_hr_first_then_oldest(tmp_path):
    ob = Outbox(OutboxConfig(path=str(tmp_path / "o.sqlite"), max_bytes=65536))
    payload = b"x" * 1000
    kinds = ["beat", "strip", "hr", "status"] * 20
    for k in kinds:
        assert ob.append(f"ecg/1/{k}", payload, qos=1, retain=False, event_type=k) is not None
    assert ob.pending_bytes <= 65536
    left = [m.event_type for m in ob.peek(0, 1000)]
    dropped = ob.stats()["dropped"]
    # everything dropped so far was a strip or an hr, the oldest of them
    assert set(dropped) <= {"strip", "hr"} and left.count("beat") == 20
    # a new strip never evicts a beat: with only beats/status left it is dropped itself
    while any(k in ("strip", "hr") for k in left):
        ob.append("ecg/1/beats", payload, qos=1, retain=False, event_type="beat")
        left = [m.event_type for m in ob.peek(0, 1000)]
    n_beats = left.count("beat")
    assert ob.append("ecg/1/strip", payload, qos=1, retain=False, event_type="strip") is None
    assert [m.event_type for m in ob.peek(0, 1000)].count("beat") == n_beats
    # beats evict status first, then the oldest beats
    for _ in range(80):
        ob.append("ecg/1/beats", payload, qos=1, retain=False, event_type="beat")
    s = ob.stats()
    assert s["dropped"]["status"] == 20 and s["dropped"]["beat"] > 0
    assert s["dropped_total"] == sum(s["dropped"].values())
    first = ob.peek(0, 1)[0].id
    assert first > 80  # the oldest beats went
    ob.close()
    assert Outbox(OutboxConfig(path=str(tmp_path / "o.sqlite"))).stats()["dropped"] == s["dropped"]


def test_thread_safe_append_and_ack():
    ob = Outbox(OutboxConfig(path=MEMORY))
    done = threading.Event()

    def acker():
        while not done.is_set() or ob.pending:
            ob.ack(m.id for m in ob.peek(0, 50))

    t = threading.Thread(target=acker)
    t.start()
    fill(ob, ["beat"] * 500)
    done.set()
    t.join(10)
    assert ob.pending == 0 and ob.stats()["acked"] == 500


@pytest.mark.parametrize("kw, field", [({"path": ""}, "path"), ({"max_bytes": 10}, "max_bytes"),
                                       ({"synchronous": "off"}, "synchronous")])
def test_config_errors_name_the_field(kw, field):
    with pytest.raises(ConfigError) as ei:
        OutboxConfig(**kw)
    assert ei.value.field == field


def test_unopenable_path_is_an_outbox_error(tmp_path):
    (tmp_path / "f").write_text("not a directory")
    with pytest.raises(OutboxError) as ei:
        Outbox(OutboxConfig(path=str(tmp_path / "f" / "o.sqlite")))
    assert isinstance(ei.value, SinkError)


def test_a_file_that_is_not_a_database_is_set_aside_and_a_fresh_outbox_opened(tmp_path,
                                                                              caplog):
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"this is not a database" * 100)
    with Outbox(OutboxConfig(path=str(junk))) as ob:
        assert ob.n_set_aside == 1 and ob.pending == 0
        assert fill(ob, ["beat"]) == [1]
    (aside,) = tmp_path.glob("junk.sqlite.damaged-*")
    assert aside.read_bytes() == b"this is not a database" * 100
    assert "is damaged" in caplog.text and "will not be sent" in caplog.text


def test_damage_found_while_running_moves_the_file_aside_and_loses_no_new_message(tmp_path,
                                                                                  caplog):
    """A page of the file overwritten under a running outbox (a failing SD card): every
    append failed "database disk image is malformed" and the daemon went on dropping every
    new event, logging every 1000th error (session 45 audit). Now the file is set aside, a
    fresh outbox takes the message, and new ids stay above the old ones (an ack still in
    flight for the old file deletes nothing new)."""
    path = tmp_path / "o.sqlite"
    with Outbox(OutboxConfig(path=str(path))) as ob:
        fill(ob, ["strip"] * 300)
    ob = Outbox(OutboxConfig(path=str(path)))
    old = ob.peek(0, 1000)
    assert len(old) == 300
    ob._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    with open(path, "r+b") as f:  # damage the table's pages behind the open connection
        f.seek(4096)
        f.write(b"\xff" * 8192)
    new_id = ob.append("ecg/1/alert", b"{}", qos=1, retain=False, event_type="alert")
    assert ob.n_set_aside == 1 and new_id is not None and new_id > old[-1].id
    assert ob.ack([m.id for m in old]) == 0  # the old file's ids: nothing new deleted
    assert [m.id for m in ob.peek()] == [new_id] and ob.pending == 1
    assert list(tmp_path.glob("o.sqlite.damaged-*"))
    assert "is damaged" in caplog.text
    ob.close()


def test_queued_alerts_are_tracked_across_ack_drop_and_reopen(tmp_path):
    """The outbox knows how many alerts wait and since when (the reconnect ceiling and the
    local fallback read it), also after a restart on the same file."""
    path = str(tmp_path / "o.sqlite")
    ob = Outbox(OutboxConfig(path=path))
    assert ob.urgent_pending == 0 and ob.oldest_urgent_s is None
    ids = fill(ob, ["beat", "alert", "strip", "alert"])
    assert ob.urgent_pending == 2 and ob.stats()["urgent_pending"] == 2
    first = ob.oldest_urgent_s
    assert first is not None and abs(first - __import__("time").time()) < 60
    ob.ack([ids[1]])
    assert ob.urgent_pending == 1 and ob.oldest_urgent_s >= first
    ob.close()
    ob2 = Outbox(OutboxConfig(path=path))
    assert ob2.urgent_pending == 1
    ob2.ack([ids[3]])
    assert ob2.urgent_pending == 0 and ob2.oldest_urgent_s is None
    ob2.close()


def test_alarms_are_dropped_last_and_each_alarm_dropped_is_an_error(caplog):
    """Session 48 audit: beats and alerts were one drop class, so during a long outage new
    beats pushed queued VT and asystole alarms out (208: 123 of 130 alerts), logged only as
    "dropped a beat message". A beat never evicts an alarm now; only a newer alarm does, when
    nothing else is left, and each such drop is an error in the log."""
    with Outbox(OutboxConfig(max_bytes=65536)) as ob:
        big = b"x" * 30000
        ob.append("a", big, qos=1, retain=False, event_type="alert")
        ob.append("b", big, qos=1, retain=False, event_type="beat")
        assert ob.append("c", big, qos=1, retain=False, event_type="beat") is not None
        assert ob.stats()["dropped"] == {"beat": 1} and ob.urgent_pending == 1  # the older beat
        ob.append("d", big, qos=1, retain=False, event_type="alert")  # evicts the beat
        assert ob.stats()["dropped"] == {"beat": 2} and ob.urgent_pending == 2
        assert ob.append("e", big, qos=1, retain=False, event_type="beat") is None  # itself
        assert ob.urgent_pending == 2 and "dropped an alert" not in caplog.text
        ob.append("f", big, qos=1, retain=False, event_type="alert")  # alarms only: the oldest
        assert ob.stats()["dropped"] == {"beat": 3, "alert": 1} and ob.urgent_pending == 2
        assert [m.topic for m in ob.peek()] == ["d", "f"]
        errors = [r for r in caplog.records if r.levelname == "ERROR"]
        assert len(errors) == 1 and "dropped an alert message" in errors[0].getMessage()


def test_a_file_of_the_old_drop_classes_gets_the_new_ones(tmp_path):
    path = str(tmp_path / "o.sqlite")
    with Outbox(OutboxConfig(path=path)) as ob:
        fill(ob, ["alert", "beat"])
    with sqlite3.connect(path) as db:  # as an outbox of 2026-12-02 wrote them
        db.execute("UPDATE outbox SET priority = 2")
    with Outbox(OutboxConfig(path=path)) as ob:
        rows = ob._db.execute("SELECT event_type, priority FROM outbox ORDER BY id")  # noqa: SLF001
        assert list(rows) == [("alert", 3), ("beat", 2)]


def test_fsync_types_rule():
    with pytest.raises(ConfigError) as err:
        OutboxConfig(fsync_types=["alert"])
    assert err.value.field == "fsync_types"
    with pytest.raises(ConfigError):
        OutboxConfig(fsync_types=("",))


_FSYNC_SCRIPT = """
import sys
from edge.sinks.outbox import Outbox, OutboxConfig
ob = Outbox(OutboxConfig(path=sys.argv[1], fsync_types=("alert",)))
print("ready", flush=True)
sys.stdin.readline()
for i in range(40):
    ob.append("t", b"x" * 300, qos=1, retain=False, event_type=sys.argv[2])
ob.close()
"""


def _fsyncs(tmp_path, event_type):
    """fsync/fdatasync calls made by 40 appends of ``event_type`` (counted with strace)."""
    import shutil
    import subprocess
    import sys

    from tests.edge.runtime.daemon_support import REPO, subprocess_env

    if shutil.which("strace") is None:
        pytest.skip("strace not installed")
    log = tmp_path / f"strace-{event_type}.log"
    script = tmp_path / "append.py"
    script.write_text(_FSYNC_SCRIPT)
    proc = subprocess.Popen(
        ["strace", "-f", "-qq", "-e", "trace=fsync,fdatasync", "-o", str(log),
         sys.executable, str(script), str(tmp_path / f"{event_type}.sqlite"), event_type],
        cwd=REPO, env=subprocess_env(), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        text=True)
    assert proc.stdout.readline().strip() == "ready"
    opened = sum(1 for _ in log.open()) if log.exists() else 0  # fsyncs while opening
    proc.communicate("go\n", timeout=60)
    assert proc.returncode == 0
    lines = [x for x in log.read_text().splitlines() if "sync(" in x]
    if not lines and opened == 0 and "Operation not permitted" in log.read_text():
        pytest.skip("ptrace not permitted here")
    return len(lines) - opened


def test_alerts_are_fsynced_per_append_and_beats_are_not(tmp_path):
    """With synchronous = "normal" and fsync_types = ("alert",): 40 alerts cost at least 40
    fsyncs of the WAL, 40 beats almost none (only the checkpoint at close)."""
    n_alert = _fsyncs(tmp_path, "alert")
    n_beat = _fsyncs(tmp_path, "beat")
    assert n_alert >= 40, (n_alert, n_beat)
    assert n_beat <= 10, (n_alert, n_beat)
