"""What the benchmark scripts share: the ``--sets`` argument, the code's git revision, the
results' two files (JSON and Markdown) and a replay through the daemon's per-device chain."""
from __future__ import annotations

import argparse
import json
import subprocess
from collections.abc import Callable, Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def parse_sets(ap: argparse.ArgumentParser, text: str, known: Iterable[str]) -> list[str]:
    """The names of a comma-separated ``--sets`` value; an unknown or empty one is the
    parser's one-line error (exit 2)."""
    known = list(known)
    names = [s.strip() for s in text.split(",") if s.strip()]
    bad = [n for n in names if n not in known]
    if bad or not names:
        ap.error(f"--sets: unknown {bad or names}; choose from {', '.join(known)}")
    return names


def git_head() -> str:
    """The checkout's short revision, or ``"unknown"``."""
    return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                          capture_output=True, text=True).stdout.strip() or "unknown"


def write_results(out: str | Path, stem: str, res: dict, markdown: Callable[[dict], str]) -> str:
    """``out/stem.json`` and ``out/stem.md``; returns the Markdown."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    md = markdown(res)
    (out / f"{stem}.json").write_text(json.dumps(res, indent=1) + "\n")
    (out / f"{stem}.md").write_text(md)
    return md


def replay_alerts(classifier, x_mv, fs_hz: float, chunk_s: float,  # noqa: ANN001
                  settings: Iterable[str] = ()) -> tuple[list, object]:
    """The alert events of a signal (samples x channels, mV) fed in ``chunk_s`` chunks to
    :class:`edge.runtime.device.DeviceStream` (strip off; ``settings``: more ``key=value``
    overrides), and the stream."""
    from edge.runtime.device import DeviceStream
    from edge.runtime.settings import load_config

    cfg = load_config(None, ['source.serial.port="x"', "outputs.strip=false", *settings])
    dev = DeviceStream(classifier, cfg, device_id=1, fs_hz=fs_hz)
    step = max(1, int(round(chunk_s * fs_hz)))
    events = []
    for i in range(0, x_mv.shape[0], step):
        events += dev.process(i, x_mv[i:i + step])
    events += dev.flush()
    return [e for e in events if e.type == "alert"], dev
