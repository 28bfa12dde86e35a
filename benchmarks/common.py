"""What the benchmark scripts share: the ``--sets`` argument, checked option values (argparse
types and lists), the ending of a run (a user error one line and exit 2, Ctrl-C exit 130), the
code's git revision, the results' two files (JSON and Markdown) and a replay through the
daemon's per-device chain."""
from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
from collections.abc import Callable, Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

if str(ROOT) not in sys.path:  # run as a script: make the repository importable
    sys.path.insert(0, str(ROOT))

from edge.cli.common import output_dir, positive_float, positive_int  # noqa: E402

__all__ = ["parse_sets", "parse_names", "positive_int", "positive_float", "finite_float",
           "output_dir", "output_file", "output_stem", "results_stem", "ignore_sigint",
           "positive_ints", "read_json", "check_records", "check_model", "run_bench",
           "git_head", "write_results", "replay_alerts", "worker_classifier",
           "checked_settings", "add_replay_options", "replay_options"]


def finite_float(text: str) -> float:
    """An argparse type: a finite number (``nan`` and ``inf`` refused)."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def output_file(text: str) -> str:
    """An argparse type: a results file the benchmark can write, refused before the run when
    it is a folder or its folder cannot be created and written (as ``--out`` folders are)."""
    from training.tool import output_file as check  # noqa: PLC0415

    return check(text)


def output_stem(text: str) -> Path:
    """An argparse type: a results path without its suffix (``STEM.json`` and ``STEM.md`` are
    written), checked before the run as :func:`output_file`."""
    return Path(output_file(text))


def results_stem(text: str) -> Path:
    """:func:`output_stem` where a relative name is taken under ``benchmarks/results``."""
    stem = Path(text)
    return output_stem(str(stem if stem.is_absolute() else ROOT / "benchmarks" / "results" / stem))


def positive_ints(text: str) -> list[int]:
    """An argparse type: comma-separated integers >= 1 (``8,16,32``), at least one."""
    parts = [t.strip() for t in text.split(",") if t.strip()]
    if not parts:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers >= 1, got {text!r}")
    return [positive_int(t) for t in parts]


def parse_names(ap: argparse.ArgumentParser, option: str, text: str,
                known: Iterable[str] | None = None) -> list[str]:
    """The names of a comma-separated option value (records, detectors...); none at all, or
    one not in ``known`` when given, is the parser's one-line error (exit 2)."""
    names = [s.strip() for s in text.split(",") if s.strip()]
    if not names:
        ap.error(f"{option}: expected comma-separated names, got {text!r}")
    if known is not None:
        known = list(known)
        bad = [n for n in names if n not in known]
        if bad:
            ap.error(f"{option}: unknown {bad}; choose from {', '.join(known)}")
    return names


def read_json(ap: argparse.ArgumentParser, option: str, path: str | os.PathLike,
              what: str = "a result JSON of this benchmark"):
    """The JSON document of a file an option names; a missing, unreadable or non-JSON file is
    the parser's one-line error (exit 2). ``what`` says what the file should be."""
    try:
        return json.loads(Path(path).read_text())
    except OSError as exc:
        ap.error(f"{option} {path}: cannot read it ({exc.strerror or exc})")
    except (UnicodeDecodeError, ValueError) as exc:
        ap.error(f"{option} {path}: not JSON ({exc}); expected {what}")


def check_records(records: Iterable[str], database: str = "mitdb",
                  data_dir: str | os.PathLike | None = None) -> None:
    """Every record found (its header), before any work: raises
    :class:`~edge.errors.DataNotFoundError` naming the first missing one or the data folder."""
    from edge.io.records import resolve_record  # noqa: PLC0415

    for r in records:
        resolve_record(r, database, data_dir)


def check_model(path: str | os.PathLike, **kwargs):  # noqa: ANN201
    """The int8 beat model of ``path`` loaded on the device's loader, before any work (a
    missing or damaged file raises :class:`~edge.errors.ModelError` naming it)."""
    from edge.model.classifier import BeatClassifier  # noqa: PLC0415

    return BeatClassifier(path, **kwargs)


def run_bench(prog: str, job: Callable[[], int], *, data_dir_option: bool = True,
              interrupted: str = "interrupted; nothing written") -> int:
    """Run a benchmark's ``job`` and return its exit code; a user error (a missing or damaged
    model, record or data folder: :class:`~edge.errors.EdgeError`; a folder that cannot be
    written) is one line on stderr and exit 2, Ctrl-C one line (``interrupted``) and exit 130.
    Without ``data_dir_option`` the data hints name only the environment variables."""
    from edge.errors import EdgeError  # noqa: PLC0415
    from training.tool import env_only  # noqa: PLC0415

    try:
        return job()
    except EdgeError as exc:
        print(f"{prog}: error: {exc if data_dir_option else env_only(str(exc))}",
              file=sys.stderr)
        return 2
    except OSError as exc:  # an output folder that cannot be written
        print(f"{prog}: error: {exc.filename or ''}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{prog}: {interrupted}", file=sys.stderr)
        return 130


def parse_sets(ap: argparse.ArgumentParser, text: str, known: Iterable[str]) -> list[str]:
    """The names of a comma-separated ``--sets`` value; an unknown or empty one is the
    parser's one-line error (exit 2)."""
    known = list(known)
    names = [s.strip() for s in text.split(",") if s.strip()]
    bad = [n for n in names if n not in known]
    if bad or not names:
        ap.error(f"--sets: unknown {bad or names}; choose from {', '.join(known)}")
    return names


def ignore_sigint() -> None:
    """A pool worker's initializer: the worker leaves Ctrl-C to the parent (which ends the
    pool and says so in one line), so no worker prints its own traceback."""
    import signal  # noqa: PLC0415

    signal.signal(signal.SIGINT, signal.SIG_IGN)


def git_head() -> str:
    """The checkout's short revision, ``+uncommitted`` when the code under test (tracked files
    of the packages) differs from it, or ``"unknown"``."""
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                          capture_output=True, text=True).stdout.strip()
    if not head:
        return "unknown"
    changed = subprocess.run(["git", "diff", "--quiet", "HEAD", "--", "edge", "training",
                              "convert", "benchmarks", "firmware_bridge"], cwd=ROOT,
                             capture_output=True).returncode
    return head + ("+uncommitted" if changed == 1 else "")


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


_WORKER_CLASSIFIER = None


def worker_classifier():  # noqa: ANN201
    """The bundled beat classifier, loaded once per (worker) process."""
    global _WORKER_CLASSIFIER
    if _WORKER_CLASSIFIER is None:
        from edge.model.bundled import default_model_path  # noqa: PLC0415
        from edge.model.classifier import BeatClassifier  # noqa: PLC0415

        _WORKER_CLASSIFIER = BeatClassifier(default_model_path())
    return _WORKER_CLASSIFIER


def checked_settings(ap: argparse.ArgumentParser, option: str, items: list[str]
                     ) -> tuple[str, ...]:
    """``key=value`` daemon settings, checked by the configuration loader (a wrong one is the
    parser's one-line error naming ``option``)."""
    from edge.errors import ConfigError  # noqa: PLC0415
    from edge.runtime.settings import load_config  # noqa: PLC0415

    try:
        load_config(None, ['source.serial.port="x"', *items])
    except ConfigError as exc:
        ap.error(f"{option}: {exc}")
    return tuple(items)


def add_replay_options(ap: argparse.ArgumentParser, stem: str) -> None:
    """The options of a benchmark that replays record sets through the daemon's chain:
    ``--jobs``, ``--set``, ``--baseline``, ``--limit``, ``--records`` and ``--out`` (for
    ``stem``.json and .md); :func:`replay_options` checks them."""
    ap.add_argument("--jobs", type=int, default=2, help="worker processes (default 2)")
    ap.add_argument("--set", dest="settings", action="append", default=[],
                    metavar="KEY=VALUE", help="a daemon setting for every replay (repeatable)")
    ap.add_argument("--baseline", action="append", default=[], metavar="KEY=VALUE",
                    help="also replay with these settings (on top of --set) and compare")
    ap.add_argument("--limit", type=int, default=None,
                    help="only the first N records of each set (a quick look)")
    ap.add_argument("--records", default=None, metavar="A,B",
                    help="only these records of the sets (comma-separated names)")
    ap.add_argument("--out", type=output_dir, default=str(ROOT / "benchmarks" / "results"),
                    help=f"folder for {stem}.json and {stem}.md (default benchmarks/results)")


def replay_options(ap: argparse.ArgumentParser, args: argparse.Namespace
                   ) -> tuple[list[str] | None, tuple[str, ...], tuple[str, ...] | None]:
    """:func:`add_replay_options`' values checked: (the records named or None, the settings,
    the baseline's settings or None); a wrong one is the parser's one-line error."""
    if args.jobs < 1:
        ap.error(f"--jobs: must be >= 1, got {args.jobs}")
    if args.limit is not None and args.limit < 1:
        ap.error(f"--limit: must be >= 1, got {args.limit}")
    only = None
    if args.records is not None:
        only = [r.strip() for r in args.records.split(",") if r.strip()]
        if not only:
            ap.error("--records: no record named")
    settings = checked_settings(ap, "--set", args.settings)
    baseline = (checked_settings(ap, "--baseline", args.settings + args.baseline)
                if args.baseline else None)
    return only, settings, baseline
