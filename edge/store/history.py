"""Read side of the store: each wearer's history (``ecg-edge history``), the ward overview
and the strip around an alarm (the dashboard's database pages).

All times are Unix seconds (the events' ``time_s``); a window is ``[now - since_s, now]``.
"""
from __future__ import annotations

import bisect
import json
import time
from dataclasses import dataclass
from typing import Any

from edge.store.db import EventStore

__all__ = ["device_history", "ward_overview", "strip_around", "hr_series", "render_history",
           "AF_RHYTHMS", "WardRow"]

#: Beat rhythms counted as atrial fibrillation burden.
AF_RHYTHMS = ("AFIB", "AFL")
_US = 1_000_000
#: The link gaps a device's text history lists one by one; more are summed, the longest listed.
_LINK_GAPS_LISTED = 10


def _where(since_us: int, device: int | None, alias: str = "") -> tuple[str, list[Any]]:
    p = f"{alias}." if alias else ""
    sql, params = f"{p}time_us >= ?", [since_us]
    if device is not None:
        sql += f" AND {p}device_id = ?"
        params.append(device)
    return sql, params


#: Beats whose rhythm is read (unreadable NOISE and not-yet-known NULL count neither way).
_READABLE = "rhythm IS NOT NULL AND rhythm <> 'NOISE'"
_IN_AF = "rhythm IN (" + ", ".join(f"'{r}'" for r in AF_RHYTHMS) + ")"
#: An ``afib`` episode still open runs to the end of its stream.
_OPEN_END = 2 ** 62


def _restart_cuts(store: EventStore, dev: int) -> dict[int, list[int]]:
    """Per boot, the ``seq`` of each link event that restarted the device's pipeline within
    the run (a rate change, a reset: the wearable's counter went back or a gap was too long
    to fill). Sample indices start anew after one, so a stretch between two is where they
    can be compared."""
    cuts: dict[int, list[int]] = {}
    for boot, seq in store.query(
            "SELECT boot, seq FROM device_events WHERE device_id = ? AND type = 'link' AND "
            "(state = 'rate_change' OR (state = 'gap' AND payload LIKE ?)) ORDER BY boot, seq",
            [dev, '%"action":"reset"%']):
        cuts.setdefault(int(boot), []).append(int(seq))
    return cuts


def _stretch(cuts: dict[int, list[int]], boot: int, seq: int) -> tuple[int, int]:
    """The ``seq`` bounds (exclusive) of the stretch of run ``boot`` that event ``seq`` lies
    in (:func:`_restart_cuts`)."""
    marks = cuts.get(boot, [])
    k = bisect.bisect_left(marks, seq)
    return (marks[k - 1] if k else -1), (marks[k] if k < len(marks) else _OPEN_END)


def _max_1h(store: EventStore, w: str, p: list[Any], dev: int,
            cuts: dict[int, list[int]]) -> float | None:
    """The largest reported 1-hour AF burden with a full hour of its stream behind it (the
    first hour's values cover less: 100 % after the first AF minute would read as an hour in
    AF); a stream starts at its run's start or at a restart within it."""
    start: dict[tuple[int, float, int], int] = {}
    for boot, fs, seq, si in store.query(
            "SELECT boot, fs_hz, seq, sample_index FROM hr WHERE device_id = ?", [dev]):
        key = (int(boot), float(fs), _stretch(cuts, int(boot), int(seq))[0])
        start[key] = min(int(si), start.get(key, int(si)))
    return max((float(b) for boot, fs, seq, si, b in store.query(
        f"SELECT boot, fs_hz, seq, sample_index, af_burden_1h FROM hr WHERE {w} AND "
        f"af_burden_1h IS NOT NULL", p)
        if int(si) - start[(int(boot), float(fs), _stretch(cuts, int(boot), int(seq))[0])]
        >= 3600 * float(fs)), default=None)


def _af_time(store: EventStore, w: str, p: list[Any], dev: int,
             cuts: dict[int, list[int]]) -> tuple[float, float]:
    """(seconds in AF/flutter, seconds analysed) of the window's beats, counted as the
    device counts its burden: each beat with a readable rhythm brings its preceding
    interval, in AF when the beat lies in an ``afib`` episode as the device dated it (onset
    and end alerts carry the dated-back sample index; a beat's own ``rhythm`` is what was
    known when it left, before the onset was confirmed). A run (boot) without stored
    ``afib`` alerts (e.g. a JSONL file written without them) counts its beats' own rhythm."""
    pre = _pre_interval_sql(store)
    total = store.query(f"SELECT sum({pre}) FROM beats WHERE {w} AND {_READABLE}", p)[0][0]
    if not total:
        return 0.0, 0.0
    alerts = store.query(
        f"SELECT boot, fs_hz, state, sample_index, seq FROM alerts WHERE device_id = ? AND "
        f"kind = 'afib' AND boot IN (SELECT DISTINCT boot FROM beats WHERE {w}) "
        f"ORDER BY boot, time_us, seq", [dev, *p])
    # An episode covers the beats of its own stretch of the run only (_restart_cuts): a
    # restart's overlapping indices counted each beat once per episode (200 % burden).
    # (boot, fs_hz, after, up to, first seq, last seq)
    episodes: list[tuple[int, float, int, int, int, int]] = []
    onset: dict[tuple[int, float], tuple[int, int]] = {}
    for boot, fs, state, si, seq in alerts:
        key = (int(boot), float(fs))
        if state == "onset":
            onset.setdefault(key, (int(si), int(seq)))
        elif state == "end" and key in onset:
            lo, at = onset.pop(key)
            episodes.append((*key, lo, int(si), *_stretch(cuts, key[0], at)))
    episodes += [(*key, si, _OPEN_END, *_stretch(cuts, key[0], at))
                 for key, (si, at) in onset.items()]
    with_alerts = sorted({int(b) for b, *_ in alerts})
    af = 0.0
    if episodes:
        rows = ", ".join(["(CAST(? AS BIGINT), CAST(? AS DOUBLE PRECISION), CAST(? AS BIGINT), "
                          "CAST(? AS BIGINT), CAST(? AS BIGINT), CAST(? AS BIGINT))"]
                         * len(episodes))
        af += store.query(
            f"WITH eps(b, f, lo, hi, s0, s1) AS (VALUES {rows}) SELECT sum({pre}) FROM beats "
            f"JOIN eps ON beats.boot = eps.b AND beats.fs_hz = eps.f AND "
            f"beats.sample_index > eps.lo AND beats.sample_index <= eps.hi AND "
            f"beats.seq > eps.s0 AND beats.seq < eps.s1 "
            f"WHERE {w} AND {_READABLE}",
            [x for ep in episodes for x in ep] + p)[0][0] or 0.0
    marks = ", ".join("?" * len(with_alerts))
    others = f" AND boot NOT IN ({marks})" if with_alerts else ""
    af += store.query(f"SELECT sum({pre}) FROM beats WHERE {w} AND {_IN_AF}{others}",
                      p + with_alerts)[0][0] or 0.0
    return float(af), float(total)


def _pre_interval_sql(store: EventStore) -> str:
    """SQL for a beat's preceding RR interval (s) from its ``rr_s`` JSON (NULL when absent)."""
    if store.dialect == "postgresql":
        return "CAST(rr_s::json->>'pre' AS DOUBLE PRECISION)"
    return "json_extract(rr_s, '$.pre')"


def _devices(store: EventStore, since_us: int, device: int | None) -> list[int]:
    where, params = _where(since_us, device)
    parts = " UNION ".join(f"SELECT DISTINCT device_id FROM {t} WHERE {where}"
                           for t in ("beats", "hr", "alerts", "device_events"))
    rows = store.query(f"SELECT device_id FROM ({parts}) d ORDER BY device_id", params * 4)
    return [int(r[0]) for r in rows]


def device_history(store: EventStore, since_s: float, *, device: int | None = None,
                   now_s: float | None = None, silence_s: float = 120.0) -> list[dict]:
    """One report per wearer seen in the window (or only ``device``).

    Each report: ``device_id``, ``window`` (``from_s``, ``to_s``), ``first_s`` / ``last_s``
    (events seen), ``boots``, ``beats`` (count per class) and ``beats_total``, ``alerts``
    (time order: ``time_s``, ``kind``, ``state``, ``severity``, ``detail``), ``af_burden``
    (``time``: share of analysed time in AF/flutter, as the device counts its burden -- each
    beat with a known rhythm brings its preceding interval, ``analysed_s`` in all; unreadable
    stretches (rhythm ``NOISE``) count neither way; ``beats``: share of those beats that lie
    in AF/flutter, higher than ``time`` when AF runs faster; ``last_1h``: the gateway's last
    reported 1-hour burden (over less than an hour early in a stream); ``max_1h``: the
    largest of those with a full hour of their stream behind them, ``None`` before one),
    ``hr_hourly`` (``hour_s``, ``min``,
    ``mean``, ``max``, ``n``), ``gaps`` (``link``: the gateway's gap events; ``silences``:
    stretches longer than ``silence_s`` without any ``hr`` event; ``missing_events``: holes
    in ``seq`` within each boot, events the store never received -- counted from
    ``missing_counted_from_s`` when retention deleted rows inside the window, else ``None``).
    """
    now_s = time.time() if now_s is None else now_s
    since_us = int((now_s - since_s) * _US)
    pruned_s = store.pruned_before_s()
    out = []
    for dev in _devices(store, since_us, device):
        w, p = _where(since_us, dev)
        rep: dict[str, Any] = {"device_id": dev, "window": {"from_s": now_s - since_s,
                                                            "to_s": now_s}}
        beats = store.query(f"SELECT label, count(*) FROM beats WHERE {w} GROUP BY label "
                            f"ORDER BY label", p)
        rep["beats"] = {str(k): int(n) for k, n in beats}
        rep["beats_total"] = sum(rep["beats"].values())
        rep["alerts"] = [
            {"time_s": t / _US, "boot": int(b), "kind": k, "state": s, "severity": sev,
             "sample_index": int(si), "detail": json.loads(d)}
            for t, b, k, s, sev, si, d in store.query(
                f"SELECT time_us, boot, kind, state, severity, sample_index, detail "
                f"FROM alerts WHERE {w} ORDER BY time_us, seq", p)]
        af = store.query(
            f"SELECT sum(CASE WHEN {_IN_AF} THEN 1 ELSE 0 END), count(rhythm) "
            f"FROM beats WHERE {w} AND {_READABLE}", p)[0]
        cuts = _restart_cuts(store, dev)
        af_s, analysed_s = _af_time(store, w, p, dev, cuts)
        burden = _max_1h(store, w, p, dev, cuts)
        last = store.query(f"SELECT af_burden_1h FROM hr WHERE {w} AND af_burden_1h IS NOT "
                           f"NULL ORDER BY time_us DESC LIMIT 1", p)
        rep["af_burden"] = {"time": af_s / analysed_s if analysed_s > 0 else None,
                            "analysed_s": analysed_s,
                            "beats": (int(af[0]) / int(af[1])) if af[1] else None,
                            "beats_with_rhythm": int(af[1] or 0),
                            "last_1h": last[0][0] if last else None,
                            "max_1h": burden}
        rep["hr_hourly"] = [
            {"hour_s": int(h) * 3600, "min": lo, "mean": float(mean), "max": hi, "n": int(n)}
            for h, lo, mean, hi, n in store.query(
                f"SELECT time_us / 3600000000 AS h, min(hr_bpm), avg(hr_bpm), max(hr_bpm), "
                f"count(*) FROM hr WHERE {w} AND hr_bpm IS NOT NULL GROUP BY h ORDER BY h",
                p)]
        rep["gaps"] = _gaps(store, w, p, silence_s, since_us, dev, pruned_s)
        span = store.query(
            "SELECT min(lo), max(hi) FROM (" + " UNION ALL ".join(
                f"SELECT min(time_us) AS lo, max(time_us) AS hi FROM {t} WHERE {w}"
                for t in ("beats", "hr", "alerts", "strips", "device_events")) + ") s", p * 5)
        rep["first_s"] = span[0][0] / _US if span[0][0] is not None else None
        rep["last_s"] = span[0][1] / _US if span[0][1] is not None else None
        rep["boots"] = sorted({int(r[0]) for r in store.query(
            f"SELECT DISTINCT boot FROM hr WHERE {w} UNION SELECT DISTINCT boot FROM beats "
            f"WHERE {w}", p * 2)})
        out.append(rep)
    return out


def _gaps(store: EventStore, w: str, p: list, silence_s: float, since_us: int, dev: int,
          pruned_s: float | None) -> dict[str, Any]:
    link = []
    for t, payload in store.query(f"SELECT time_us, payload FROM device_events WHERE {w} "
                                  f"AND type = 'link' AND state = 'gap' ORDER BY time_us", p):
        d = json.loads(payload)
        link.append({"time_s": t / _US, "gap_s": d.get("gap_s"),
                     "lost_samples": d.get("lost_samples"), "action": d.get("action")})
    silences = [
        {"from_s": a / _US, "to_s": b / _US, "duration_s": (b - a) / _US}
        for a, b in store.query(
            f"SELECT prev_us, time_us FROM (SELECT time_us, LAG(time_us) OVER "
            f"(ORDER BY time_us) AS prev_us FROM hr WHERE {w}) s "
            f"WHERE prev_us IS NOT NULL AND time_us - prev_us > ? ORDER BY time_us",
            p + [int(silence_s * _US)])]
    # holes in seq before the latest retention cut-off may be rows retention deleted (strips
    # go first): they are counted from there on only
    counted_from_us = since_us
    if pruned_s is not None:
        counted_from_us = max(since_us, int(pruned_s * _US))
    ws, ps = _where(counted_from_us, dev)
    seqs = " UNION ALL ".join(f"SELECT boot, seq FROM {t} WHERE {ws}"
                              for t in ("beats", "hr", "alerts", "strips", "device_events"))
    missing = sum(int(hi - lo + 1 - n) for _, lo, hi, n in store.query(
        f"SELECT boot, min(seq), max(seq), count(*) FROM ({seqs}) s GROUP BY boot", ps * 5))
    return {"link": link, "silences": silences, "missing_events": missing,
            "missing_counted_from_s": (counted_from_us / _US if counted_from_us > since_us
                                       else None)}


@dataclass(frozen=True)
class WardRow:
    """One device in the ward overview."""

    device_id: int
    last_seen_s: float | None
    hr_bpm: float | None
    rhythm: str | None
    last_label: str | None
    af_burden_1h: float | None
    active: tuple[dict, ...]          # alerts whose episode has not ended (onset only)
    link: str | None
    quality: str | None
    boot: int | None

    @property
    def priority(self) -> int:
        """0: an active alarm, 1: an active warning, 2: none."""
        sev = {a["severity"] for a in self.active}
        return 0 if "alarm" in sev else 1 if sev else 2


def _latest(store: EventStore, table: str, cols: str, since_us: int, extra: str = ""
            ) -> dict[int, tuple]:
    rows = store.query(
        f"SELECT t.device_id, {cols} FROM {table} t JOIN (SELECT device_id, max(time_us) AS m "
        f"FROM {table} WHERE time_us >= ? {extra} GROUP BY device_id) l "
        f"ON t.device_id = l.device_id AND t.time_us = l.m {extra.replace('AND ', 'AND t.')}",
        [since_us])
    return {int(r[0]): tuple(r[1:]) for r in rows}


def ward_overview(store: EventStore, since_s: float = 86400.0, *, now_s: float | None = None
                  ) -> list[WardRow]:
    """Every device seen in the window: last heart rate, rhythm, active alarms, link and
    signal state; devices with an active alarm first, then warnings, then by id."""
    now_s = time.time() if now_s is None else now_s
    since_us = int((now_s - since_s) * _US)
    hr = _latest(store, "hr", "t.time_us, t.hr_bpm, t.af_burden_1h, t.boot", since_us)
    beat = _latest(store, "beats", "t.time_us, t.rhythm, t.label, t.boot", since_us)
    link = _latest(store, "device_events", "t.time_us, t.state", since_us,
                   "AND type = 'link'")
    quality = _latest(store, "device_events", "t.time_us, t.state", since_us,
                      "AND type = 'quality'")
    active: dict[int, dict[str, dict]] = {}
    for dev, boot, t, kind, state, sev, detail in store.query(
            "SELECT device_id, boot, time_us, kind, state, severity, detail FROM alerts "
            "WHERE time_us >= ? ORDER BY device_id, time_us, seq", [since_us]):
        episodes = active.setdefault(int(dev), {})
        for k in [k for k, a in episodes.items() if a["boot"] != boot]:
            del episodes[k]  # a new gateway run ends the previous run's episodes (so does
            # any newer event of the device, below)
        if state == "onset":
            episodes[kind] = {"kind": kind, "severity": sev, "time_s": t / _US,
                              "boot": int(boot), "detail": json.loads(detail)}
        elif state == "end":
            episodes.pop(kind, None)
    devices = set(hr) | set(beat) | set(link) | set(quality) | set(active)
    rows = []
    for dev in devices:
        h, b = hr.get(dev), beat.get(dev)
        boot = max((int(x[3]) for x in (h, b) if x), default=None)
        episodes = [a for a in active.get(dev, {}).values() if boot is None or a["boot"] >= boot]
        seen = [x[0] for x in (h, b, link.get(dev), quality.get(dev)) if x]
        rows.append(WardRow(
            device_id=dev, last_seen_s=max(seen) / _US if seen else None,
            hr_bpm=h[1] if h else None, af_burden_1h=h[2] if h else None,
            boot=boot, rhythm=b[1] if b else None, last_label=b[2] if b else None,
            active=tuple(sorted(episodes, key=lambda a: a["time_s"])),
            link=link[dev][1] if dev in link else None,
            quality=quality[dev][1] if dev in quality else None))
    return sorted(rows, key=lambda r: (r.priority, r.device_id))


def hr_series(store: EventStore, device: int, since_s: float, *, now_s: float | None = None
              ) -> list[tuple[float, float]]:
    """``(time_s, hr_bpm)`` of every ``hr`` event of ``device`` in the window."""
    now_s = time.time() if now_s is None else now_s
    return [(t / _US, v) for t, v in store.query(
        "SELECT time_us, hr_bpm FROM hr WHERE device_id = ? AND time_us >= ? AND hr_bpm IS "
        "NOT NULL ORDER BY time_us", [device, int((now_s - since_s) * _US)])]


def strip_around(store: EventStore, device: int, boot: int, sample_index: int, *,
                 before_s: float = 5.0, after_s: float = 5.0) -> dict[str, Any] | None:
    """The stored ECG strip samples around ``sample_index`` of one gateway run:
    ``{"t_s": [...], "mv": [...]}`` (seconds relative to ``sample_index``; ``None`` where the
    signal was invalid), or ``None`` when no strip of that stretch is stored (retention)."""
    rows = store.query(
        "SELECT sample_index, fs_hz, strip_fs_hz, samples_mv FROM strips WHERE device_id = ? "
        "AND boot = ? AND sample_index <= ? ORDER BY sample_index DESC LIMIT 200",
        [device, boot, sample_index + int(after_s * 2000)])
    t_out: list[float] = []
    mv_out: list[float | None] = []
    for si, fs, sfs, samples in sorted(rows):
        values = json.loads(samples)
        for i, v in enumerate(values):
            t = (si - sample_index) / fs + i / sfs
            if -before_s <= t <= after_s:
                t_out.append(round(t, 4))
                mv_out.append(v)
    return {"t_s": t_out, "mv": mv_out} if t_out else None


def _fmt_time(t: float | None) -> str:
    return "-" if t is None else time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(t))


def _fmt_duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


#: Events stamped more than this after "now" (s) are pointed out: a gateway clock ahead.
FUTURE_SLACK_S = 60.0


def render_history(reports: list[dict]) -> str:
    """The text form of :func:`device_history` (UTC times)."""
    if not reports:
        return "no events stored in this window\n"
    lines: list[str] = []
    for r in reports:
        lines.append(f"device {r['device_id']}  events {_fmt_time(r['first_s'])} .. "
                     f"{_fmt_time(r['last_s'])} UTC  boots {r['boots']}")
        if r["last_s"] is not None and r["last_s"] > r["window"]["to_s"] + FUTURE_SLACK_S:
            lines.append(f"  note: events stamped up to {_fmt_time(r['last_s'])} UTC, after "
                         f"now: the gateway's clock runs ahead (they are shown)")
        classes = "  ".join(f"{k} {n}" for k, n in r["beats"].items()) or "none"
        lines.append(f"  beats {r['beats_total']}: {classes}")
        af = r["af_burden"]
        last = "-" if af["last_1h"] is None else f"{100 * af['last_1h']:.1f} %"
        peak = "- (no full hour)" if af["max_1h"] is None else f"{100 * af['max_1h']:.1f} %"
        if af["time"] is None:
            share = "-" if af["beats"] is None else f"{100 * af['beats']:.1f} % of beats"
        else:
            share = (f"{100 * af['time']:.1f} % of {_fmt_duration(af['analysed_s'])} analysed"
                     f" ({100 * af['beats']:.1f} % of {af['beats_with_rhythm']} beats)")
        lines.append(f"  AF burden: {share}; last 1 h {last}, max 1 h {peak}")
        kinds: dict[str, int] = {}
        for a in r["alerts"]:
            if a["state"] != "end":
                kinds[a["kind"]] = kinds.get(a["kind"], 0) + 1
        summary = ", ".join(f"{k} {n}" for k, n in sorted(kinds.items(), key=lambda x: -x[1]))
        raised = sum(kinds.values())
        ends = len(r["alerts"]) - raised
        lines.append(f"  alerts {len(r['alerts'])}" + (
            f" ({raised} raised: {summary}"
            + (f"; {ends} end{'s' if ends != 1 else ''}" if ends else "") + ")"
            if summary else "") + ":")
        for a in r["alerts"]:
            lines.append(f"    {_fmt_time(a['time_s'])}  {a['severity']:<7} {a['kind']:<11} "
                         f"{a['state']}")
        lines.append("  heart rate per hour (UTC): min / mean / max bpm")
        for h in r["hr_hourly"]:
            lines.append(f"    {_fmt_time(h['hour_s'])[:13]}h  {h['min']:.0f} / "
                         f"{h['mean']:.0f} / {h['max']:.0f}  ({h['n']} values)")
        g = r["gaps"]
        since = g.get("missing_counted_from_s")
        lines.append(f"  gaps: {len(g['link'])} link gaps, {len(g['silences'])} silences, "
                     f"{g['missing_events']} events missing by seq"
                     + (f" (counted from {_fmt_time(since)}: older events were removed by "
                        f"retention)" if since is not None else ""))
        for s in g["silences"]:
            lines.append(f"    no data {_fmt_time(s['from_s'])} .. {_fmt_time(s['to_s'])} "
                         f"({s['duration_s']:.0f} s)")
        link = g["link"]
        if len(link) > _LINK_GAPS_LISTED:  # a lossy link: thousands of lines an hour
            lines.append(f"    {sum(s['gap_s'] for s in link):.1f} s lost in "
                         f"{len(link)} link gaps from {_fmt_time(link[0]['time_s'])} to "
                         f"{_fmt_time(link[-1]['time_s'])}; the {_LINK_GAPS_LISTED} longest:")
            longest = sorted(link, key=lambda s: -s["gap_s"])[:_LINK_GAPS_LISTED]
            link = sorted(longest, key=lambda s: s["time_s"])
        for s in link:
            lines.append(f"    link gap at {_fmt_time(s['time_s'])}: {s['gap_s']:.1f} s, "
                         f"{s['lost_samples']} samples lost ({s['action']})")
    return "\n".join(lines) + "\n"
