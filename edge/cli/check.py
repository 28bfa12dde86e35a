"""``ecg-edge check``: validate a daemon configuration, load its model and run it once.

Loading the model (:class:`~edge.model.classifier.BeatClassifier`) checks its contract against
the pipeline and runs it on a zero beat, so a model that loads but cannot run fails here, with
one line naming the file, rather than on the wearer's first beat."""
from __future__ import annotations

import argparse
import dataclasses
import logging
from pathlib import Path
from typing import Any

from edge.cli.common import add_common

logger = logging.getLogger(__name__)

__all__ = ["add_parser", "cmd_check"]


def _flutter_grading(config: Any) -> str:
    """How the ``vflutter`` alert is graded, for the ventricular line."""
    fl = config.rhythm.vflutter
    if not fl.confirm:
        return "always an alarm"
    return (f"an alarm when the VF stage sees a shockable window {fl.lookback_s:g} s before "
            f"to {fl.hold_s:g} s after it, else a warning")


def _vt_grading(config: Any) -> str:
    """When a ``vt`` run is an alarm, for the ventricular line."""
    vt = config.rhythm.vt
    if vt.alarm_min_beats <= vt.vt_min_beats:
        return f"vt an alarm from {vt.vt_min_beats} V beats"
    return (f"vt an alarm from {vt.alarm_min_beats} V beats, a shorter run from "
            f"{vt.vt_min_beats} a warning")


def describe_source(kind: str, transport: Any) -> str:
    """One line saying which device the configuration reads: the transport's identifying
    fields (the full settings are in the file)."""
    keys = {"serial": ("port", "baudrate"), "ble": ("address", "profile"),
            "replay": ("record", "speed", "channels")}.get(kind, ())
    parts = [f"{k}={_shown(k, getattr(transport, k))}" for k in keys if hasattr(transport, k)]
    faults = getattr(transport, "faults", None) if kind == "replay" else None
    if faults is not None and faults != type(faults)():  # injected faults: say which
        changed = {f.name: getattr(faults, f.name) for f in dataclasses.fields(faults)
                   if getattr(faults, f.name) != f.default}
        parts.append("faults " + ", ".join(f"{k}={v!r}" for k, v in changed.items()))
    return f"{kind} ({', '.join(parts)})" if parts else kind


def _shown(key: str, value: Any) -> str:
    """A source setting as its TOML reads: a replay speed of ``None`` is ``"max"``."""
    return "'max'" if key == "speed" and value is None else repr(value)


def _channel(config: Any) -> str:
    """``source.channel`` as the daemon will read it."""
    if config.source.channel is not None:
        return str(config.source.channel)
    if config.source.kind == "replay":
        return "not set: the record's channel named as the model's lead, else 0"
    return "not set: 0"


#: Free space under an output below which ``check`` refuses it / warns (MB).
_NO_SPACE_MB = 1.0
_LOW_SPACE_MB = 100.0


def _writable_place(path: Path, what: str) -> None:
    """Refuse (one :class:`~edge.errors.ConfigError`) a file or folder the daemon could not
    create: its nearest existing ancestor must be a folder it may write in (the sinks create
    the folders below it); nothing is created here."""
    import os  # noqa: PLC0415

    from edge.errors import ConfigError  # noqa: PLC0415

    a_file = what.endswith("path")
    if path.is_dir() and a_file:
        raise ConfigError(what, f"{path} is a folder, not a file")
    from edge.cli.common import nearest_existing  # noqa: PLC0415

    if a_file and path.is_file():  # a previous run's file: appended to, rotated beside it
        if not os.access(path, os.W_OK):
            raise ConfigError(what, f"{path} is not writable")
        probe = path.parent
    else:
        probe = nearest_existing(path)
    if not probe.is_dir():
        raise ConfigError(what, f"{path}: {probe} is not a folder")
    if not os.access(probe, os.W_OK):
        raise ConfigError(what, f"{path}: {probe} is not writable")
    import shutil  # noqa: PLC0415

    free_mb = shutil.disk_usage(probe).free / 1e6
    if free_mb < _NO_SPACE_MB:  # run cannot open an outbox there; events would be lost
        raise ConfigError(what, f"{path}: no space left on the file system of {probe} "
                                f"({free_mb:.1f} MB free)")
    if free_mb < _LOW_SPACE_MB:
        logger.warning("%s: only %.0f MB free on the file system of %s", what, free_mb, probe)


def _probe_outputs(config: Any) -> None:
    """The file sinks' places (:func:`_writable_place`)."""
    sinks = config.sinks
    if sinks.jsonl.enabled:
        _writable_place(Path(sinks.jsonl.path), "sinks.jsonl.path")
    if sinks.wfdb.enabled:
        _writable_place(Path(sinks.wfdb.out_dir), "sinks.wfdb.out_dir")
    if sinks.mqtt.enabled:  # what MqttSink reads and opens at start (run refused them)
        sinks.mqtt.check_files()
        if sinks.mqtt.outbox_path:
            _writable_place(Path(sinks.mqtt.outbox_path).expanduser(),
                            "sinks.mqtt.outbox_path")


def _probe_serial(port: str) -> str:
    """What the serial port's path is now, in words: a device (nothing to add) or missing (the
    daemon waits for it: a USB wearable may be plugged in later); a path that can never be a
    serial port is refused as ``run`` refuses it
    (:func:`firmware_bridge.serial_source.port_problem`)."""
    from edge.errors import ConfigError  # noqa: PLC0415
    from firmware_bridge.serial_source import port_problem  # noqa: PLC0415

    problem = port_problem(port)
    if problem is not None:
        raise ConfigError("source.serial.port", f"{port} is {problem}")
    return "" if Path(port).exists() else ": not present now (run waits for it and retries)"


def _probe_replay(config: Any) -> str:
    """A replay source's record read as ``run`` reads it (found, readable, the excerpt and
    the channel there), in words; the same errors as ``run``."""
    from edge.errors import ConfigError, DaemonError  # noqa: PLC0415
    from firmware_bridge.errors import FirmwareBridgeError  # noqa: PLC0415
    from firmware_bridge.replay.samples import load_replay_signal  # noqa: PLC0415

    try:
        sig = load_replay_signal(config.source.transport)
    except FirmwareBridgeError as exc:  # as `run` says it
        raise DaemonError(f"cannot open the source: {exc}") from None
    from edge.dsp.quality import MAX_FS_HZ, MIN_FS_HZ  # noqa: PLC0415

    if not MIN_FS_HZ <= sig.fs_hz <= MAX_FS_HZ:  # as `run` stops at its first chunk
        raise DaemonError(f"the replayed record is at {sig.fs_hz:g} Hz; the device analyses "
                          f"ECG at {MIN_FS_HZ:g}-{MAX_FS_HZ:g} Hz")
    n_ch = sig.adc.shape[1]
    channel = config.source.channel
    if channel is not None and channel >= n_ch:
        raise ConfigError("source.channel", f"{channel}: the replayed record sends {n_ch} "
                                            f"channel(s) (0..{n_ch - 1})")
    return (f"{n_ch} channel(s) at {sig.fs_hz:g} Hz, {sig.adc.shape[0] / sig.fs_hz:.1f} s "
            f"replayed")


def cmd_check(args: argparse.Namespace) -> int:
    from edge.dsp.kernels import KERNELS
    from edge.model.classifier import BeatClassifier
    from edge.runtime.settings import load_config

    config = load_config(args.config, list(args.set or []))
    path = config.pipeline.model_path()
    clf = BeatClassifier(path, num_threads=config.pipeline.num_threads)
    sinks = config.sinks.enabled()
    rhythm = "off"
    if config.rhythm.enabled:
        from edge.rhythm import RhythmAnalyser
        from edge.rhythm.model import default_model_path as default_rhythm_model

        cfg = config.rhythm.analyser
        RhythmAnalyser(cfg)  # loads and checks its model file
        model_file = Path(cfg.model_path) if cfg.model_path else default_rhythm_model("af_window")
        rhythm = (f"AF analyser ({model_file.name}, episodes >= "
                  f"{config.rhythm.analyser.min_episode_s:g} s)")
    ventricular = "off"
    if config.rhythm.ventricular:
        from edge.rhythm.ventricular import load_vf_model
        from edge.rhythm.vf_net import load_vf_net

        vf = config.rhythm.vf
        load_vf_model(vf.model_file)  # loads and checks its model file
        files = vf.model_file.name
        if vf.net:
            net = load_vf_net(vf.net_file)  # likewise the network
            files += f" + {vf.net_file.name}, network share {net.blend_weight:g}"
        ventricular = (f"VF detector ({files}, alarm after {vf.onset_k} of "
                       f"{vf.onset_n} windows; lower alerts "
                       f"{'wait under' if config.rhythm.alarm_chain else 'not chained to'}"
                       f" vfib; vflutter {_flutter_grading(config)}; "
                       f"{_vt_grading(config)}; preset {config.rhythm.preset})")
    config.alarm_fallback.check_commands()  # the hook programs exist
    fb = config.alarm_fallback
    fallback = (f"after {fb.after_s:g} s: bell {'on' if fb.bell else 'off'}, command "
                f"{' '.join(fb.command) or 'none'}" if fb.enabled else "off")
    source = describe_source(config.source.kind, config.source.transport_config())
    if config.source.kind == "replay":
        source += f": {_probe_replay(config)}"
    elif config.source.kind == "serial":
        source += _probe_serial(config.source.transport_config().port)
    _probe_outputs(config)
    q = config.quality
    quiet = (f" unless quiet (HF RMS <= {q.quiet_hf_rms_mv:g} mV)" if q.quiet_hf_rms_mv > 0
             else " (quiet floor off)")
    quality = (f"{q.window_s:g}-s windows; noisy when HF/QRS energy > {q.noise_ratio_max:g}"
               f"{quiet} or QRS-band amplitude > {q.max_amplitude_mv:g} mV")
    kernels = {"direct": "direct (scipy's compiled loops, loaded without scipy.signal)",
               "scipy": "scipy (fallback: scipy.signal imported, see the log)"}[KERNELS]
    pl = config.pipeline
    gaps = (f"up to {pl.max_gap_fill_s:g} s filled, "
            + ("bridged by a line (pipeline.bridge_gaps)" if pl.bridge_gaps else
               "the last value held and blanked (pipeline.bridge_gaps = false)")
            + "; longer ones restart the pipeline")
    seal = (f"intact: sha256 seal {clf.seal.sha256[:12]}..." if clf.seal else
            "not sealed: damage to it cannot be detected, see convert/seal.py")
    print(f"{args.config}: OK\n  source: {source}\n  channel: {_channel(config)}\n"
          f"  model: {path} ({clf.model_version}, {'int8' if clf.quantized else 'float'}, "
          f"{clf.size_bytes} bytes, classes {''.join(clf.classes)}, {seal})\n"
          f"  model run: OK (one zero beat, {clf.load_run_ms:.1f} ms)\n"
          f"  rhythm: {rhythm}\n"
          f"  ventricular: {ventricular}\n"
          f"  quality: {quality}\n"
          f"  link gaps: {gaps}\n"
          f"  sinks: {', '.join(sinks) or 'none'}\n"
          f"  alarm fallback: {fallback}\n"
          f"  filter kernels: {kernels}")
    return 0


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Add ``check`` to ``ecg-edge``'s sub-commands."""
    p = subparsers.add_parser("check", help="validate a daemon configuration, load its model and "
                              "run it once")
    p.add_argument("config", type=Path, help="TOML configuration file")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a key")
    add_common(p)
    p.set_defaults(func=cmd_check)
    return p
