"""The daemon configuration as frozen, typed dataclasses (one per TOML table).

:class:`DaemonConfig` is built once by :func:`edge.runtime.settings.load_config` and passed as
an object; every field is already of its declared type (:mod:`edge.runtime.settings.typed`
checks TOML values against the annotations). A rule broken in a ``__post_init__`` raises
:class:`~edge.errors.ConfigError` with ``field`` relative to the table (``max_gap_fill_s``); the
loader keys it under the table (``pipeline.max_gap_fill_s``).

The sinks' own tables are declared next to each sink (``edge.sinks.terminal``, ``jsonl``,
``wfdb``, ``mqtt``) and the transports' in ``firmware_bridge`` (``SerialConfig``,
``BleConfig``, ``ReplayConfig``).
"""
from __future__ import annotations

import dataclasses
import logging
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edge.dsp.quality import QualityConfig
from edge.errors import ConfigError
from edge.rhythm import RhythmConfig, SvtRunConfig
from edge.rhythm.ventricular import VentricularConfig
from edge.runtime.alerts import AlertConfig
from edge.runtime.fallback import AlarmFallbackSettings
from edge.runtime.ventricular import FlutterConfirmConfig, VtConfig
from edge.sinks.jsonl import JsonlSinkSettings, StdoutSinkSettings
from edge.sinks.mqtt import MqttSinkSettings
from edge.sinks.terminal import TerminalSinkSettings
from edge.sinks.wfdb import WfdbSinkSettings

if TYPE_CHECKING:
    from firmware_bridge import BleConfig, ReplayConfig, SerialConfig

    TransportConfig = SerialConfig | BleConfig | ReplayConfig
else:  # firmware_bridge is imported only when a source is built (0.1 s)
    TransportConfig = Any

__all__ = [
    "SOURCE_KINDS",
    "SourceSettings",
    "PipelineSettings",
    "QualitySettings",
    "OutputSettings",
    "DaemonSettings",
    "RhythmSettings",
    "SinkSettings",
    "DaemonConfig",
    "SINK_NAMES",
]

logger = logging.getLogger(__name__)

#: ``source.kind`` values, each with its table ``[source.<kind>]``.
SOURCE_KINDS = ("serial", "ble", "replay")
#: Sample rate (Hz) at which the ``[quality]`` table is validated when it is loaded (the device
#: rate is known only when data flows; MIT-BIH's rate).
QUALITY_CHECK_FS_HZ = 360.0


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def transport_class(kind: str) -> type:
    """The ``firmware_bridge`` configuration class of a source kind."""
    import firmware_bridge as fb  # noqa: PLC0415 - 0.1 s of imports, only when a source is built

    return {"serial": fb.SerialConfig, "ble": fb.BleConfig, "replay": fb.ReplayConfig}[kind]


@dataclass(frozen=True, kw_only=True)
class SourceSettings:
    """The ``[source]`` table: which transport feeds the daemon, and which channel is
    classified.

    Attributes
    ----------
    kind : ``"serial"``, ``"ble"`` or ``"replay"``.
    channel : channel index classified on multi-channel devices (>= 0). ``None`` (not set):
        a replayed record's channel named as the model's lead (MIT-BIH's MLII) or a standard
        lead II, else channel 0 (the daemon logs which); a wearable's channel 0 (the wire
        protocol carries no channel names).
    transport : the transport's own validated configuration, built from ``[source.<kind>]``
        (``firmware_bridge`` ``SerialConfig``, ``BleConfig`` or ``ReplayConfig``).
    """

    kind: str
    channel: int | None = None
    transport: TransportConfig

    def __post_init__(self) -> None:
        if self.kind not in SOURCE_KINDS:
            raise ConfigError("kind", f"must be one of {', '.join(SOURCE_KINDS)}, "
                                      f"got {self.kind!r}")
        if self.channel is not None and (not isinstance(self.channel, int)
                                         or isinstance(self.channel, bool) or self.channel < 0):
            raise ConfigError("channel", f"must be an integer >= 0, got {self.channel!r}")
        cls = transport_class(self.kind)
        if not isinstance(self.transport, cls):
            raise ConfigError(self.kind, f"must be a {cls.__name__}, "
                                         f"got {type(self.transport).__name__}")

    def transport_config(self) -> TransportConfig:
        """The transport's configuration (:attr:`transport`; kept for existing callers)."""
        return self.transport


@dataclass(frozen=True, kw_only=True)
class PipelineSettings:
    """The ``[pipeline]`` table: model and gap handling.

    Attributes
    ----------
    model : int8 .tflite path; ``None`` = the bundled model.
    max_gap_fill_s : link gaps up to this long (s) are filled with invalid samples and
        classification continues; longer gaps restart the pipeline at the new sample index.
    bridge_gaps : a filled gap's samples take the values of a straight line between the
        samples around it (still invalid), and the stages are told where it lies: the R-peak
        detector finds the beats next to it, a beat window holding lost samples only outside
        its QRS is classified, and an RR interval across it is known when no beat could have
        been lost in it (``edge.dsp.beats.MIN_BEAT_SPACING_MS`` from both beats). ``false``:
        the last value held, the detector blanked the gap and 300 ms after it, every interval
        across it untrusted (before 2026-12-03: at 5 % frame loss a quarter of the beats were
        lost).
    num_threads : interpreter threads.
    min_block_ms : samples are processed at least this many ms at a time: shorter chunks (a
        wearable sending 20-ms notifications) wait in a small queue until that much has
        arrived, so the per-call cost of the stages is paid once per block, not per frame.
        Every output is the same for any chunking (the stages are chunk-invariant); the cost
        is up to this much extra latency for chunks shorter than it. 100 ms is the wearable's
        own frame, for which it adds nothing. 0 processes every chunk as it comes.
    flutter_beats : classify the beats the R-peak detector finds in a stretch it takes for
        ventricular flutter (no return to baseline: also every wide-complex tachycardia);
        ``false`` drops them, as before 2026-12-01 (the ``vflutter`` alert and the VF stage
        do not change either way).
    """

    model: str | None = None
    max_gap_fill_s: float = 3.0
    num_threads: int = 1
    min_block_ms: float = 100.0
    flutter_beats: bool = True
    bridge_gaps: bool = True

    def __post_init__(self) -> None:
        if not (_number(self.max_gap_fill_s) and 0 <= self.max_gap_fill_s <= 60):
            raise ConfigError("max_gap_fill_s", f"must be 0..60 s (a longer outage restarts the "
                                                f"pipeline rather than being filled), got "
                                                f"{self.max_gap_fill_s!r}")
        if not isinstance(self.num_threads, int) or self.num_threads < 1:
            raise ConfigError("num_threads", f"must be >= 1, got {self.num_threads!r}")
        if not (_number(self.min_block_ms) and 0 <= self.min_block_ms <= 1000):
            raise ConfigError("min_block_ms", f"must be 0..1000 ms, got {self.min_block_ms!r}")
        if not isinstance(self.flutter_beats, bool):
            raise ConfigError("flutter_beats", f"must be true or false, got "
                                               f"{self.flutter_beats!r}")
        if not isinstance(self.bridge_gaps, bool):
            raise ConfigError("bridge_gaps", f"must be true or false, got "
                                             f"{self.bridge_gaps!r}")

    def model_path(self) -> Path:
        """The model file to load."""
        if self.model:
            return Path(self.model).expanduser()
        from edge.model.bundled import default_model_path  # noqa: PLC0415

        return default_model_path()


def _quality_post_init(self: Any) -> None:
    self.quality_config(QUALITY_CHECK_FS_HZ)  # validates the fields


def _quality_config(self: Any, fs_hz: float) -> QualityConfig:
    """The :class:`~edge.dsp.quality.QualityConfig` for a device at ``fs_hz`` (Hz).

    Raises
    ------
    ConfigError
        ``field`` is the offending field (relative to ``[quality]``).
    """
    return QualityConfig(fs_hz=fs_hz, **{f.name: getattr(self, f.name)
                                         for f in dataclasses.fields(self)})


def _quality_settings_class() -> type:
    hints = typing.get_type_hints(QualityConfig)
    fields = [(f.name, hints[f.name], field(default=f.default))
              for f in dataclasses.fields(QualityConfig) if f.name != "fs_hz"]
    return dataclasses.make_dataclass(
        "QualitySettings", fields, frozen=True, kw_only=True,
        namespace={"__post_init__": _quality_post_init, "quality_config": _quality_config,
                   "__module__": __name__,
                   "__doc__": "The ``[quality]`` table: the fields of "
                              ":class:`~edge.dsp.quality.QualityConfig` except ``fs_hz`` "
                              "(the device's rate, known when data flows), with its defaults. "
                              "Derived from that class, so they are declared once. "
                              "``quality_config(fs_hz)`` gives the stage's configuration."})


#: The ``[quality]`` table (see :func:`_quality_settings_class`).
QualitySettings = _quality_settings_class()


@dataclass(frozen=True, kw_only=True)
class OutputSettings:
    """The ``[outputs]`` table: which derived events are produced, and how often.

    Attributes
    ----------
    hr_interval_s : heart-rate event period in stream time (s; 0 = off).
    strip : produce ECG strip events.
    strip_fs_hz : strip sample rate (Hz).
    strip_interval_s : strip piece length (s).
    status_interval_s : status event period in wall-clock time (s; 0 = only at exit).
    """

    hr_interval_s: float = 5.0
    strip: bool = True
    strip_fs_hz: float = 90.0
    strip_interval_s: float = 1.0
    status_interval_s: float = 60.0

    def __post_init__(self) -> None:
        for name in ("hr_interval_s", "status_interval_s"):
            v = getattr(self, name)
            if not (_number(v) and v >= 0):
                raise ConfigError(name, f"must be >= 0 s, got {v!r}")
        if not (_number(self.strip_fs_hz) and 0 < self.strip_fs_hz <= 360):
            raise ConfigError("strip_fs_hz", f"must lie in (0, 360] Hz, got {self.strip_fs_hz!r}")
        if not (_number(self.strip_interval_s) and self.strip_interval_s > 0):
            raise ConfigError("strip_interval_s", "must be > 0 s")


@dataclass(frozen=True, kw_only=True)
class DaemonSettings:
    """The ``[daemon]`` table: main-loop settings.

    Attributes
    ----------
    read_timeout_s : longest wait for samples per loop turn (s); bounds signal latency.
    idle_exit_s : stop after this long without samples once data has flowed (s; 0 = never).
    stall_s : once data has flowed, this long without samples raises a ``link`` event
        ``stalled`` (a wearable still connected but sending nothing: no other event would
        say so), and the next samples one ``resumed`` (s; 0 = never).
    """

    read_timeout_s: float = 0.05
    idle_exit_s: float = 0.0
    stall_s: float = 10.0

    def __post_init__(self) -> None:
        if not (_number(self.stall_s) and self.stall_s >= 0):
            raise ConfigError("stall_s", f"must be >= 0 s, got {self.stall_s!r}")
        if not (_number(self.read_timeout_s) and 0 < self.read_timeout_s <= 5):
            raise ConfigError("read_timeout_s", f"must lie in (0, 5] s, "
                                                f"got {self.read_timeout_s!r}")
        if not (_number(self.idle_exit_s) and self.idle_exit_s >= 0):
            raise ConfigError("idle_exit_s", f"must be >= 0 s, got {self.idle_exit_s!r}")


@dataclass(frozen=True, kw_only=True)
class RhythmSettings:
    """The ``[rhythm]`` table: the atrial-fibrillation analyser on every device.

    Attributes
    ----------
    enabled : run it (beat ``rhythm``, ``afib`` alerts, AF burden in ``hr`` events); off, those
        fields are absent and the daemon saves its ≈0.5 ms per beat.
    beat_context : rhythm-aware beat calls (:mod:`edge.rhythm.context`): a beat the model
        calls ``S`` inside AF/AFL the analyser has confirmed is reported ``N``, and the beats of
        a supraventricular run (``[rhythm.svt]``) are reported ``S`` (``proba`` unchanged);
        off, beat events carry the model's call.
    svt : the ``[rhythm.svt]`` table, :class:`edge.rhythm.SvtRunConfig` (``enabled``,
        ``max_rr_ratio``, ``rr_tolerance``, ``min_rate_bpm``, ``baseline_beats``,
        ``min_baseline_beats``, ``missed_beat_ratio``, ``relearn_beats``).
    analyser : the ``[rhythm.analyser]`` table, :class:`edge.rhythm.RhythmConfig` (window,
        hysteresis, ``min_episode_s``, ``model_path``).
    ventricular : run the ventricular-arrhythmia stage (``vfib`` and ``vt`` alerts,
        :mod:`edge.runtime.ventricular`) on every device.
    vf : the ``[rhythm.vf]`` table, :class:`edge.rhythm.ventricular.VentricularConfig`
        (window, ``p_shockable``, ``onset_k`` of ``onset_n``, ``offset_windows``,
        ``model_path``, ``screen``: skip the costlier features of windows the model's bound
        rules out; the same alarms either way; ``organised_veto`` and its ``organised_*``
        settings: no window counts as shockable while the R-peak detector's beats in it show
        an organised rhythm; ``net``, ``net_path``: average the trees' P with the VF
        network's).
    vt : the ``[rhythm.vt]`` table, :class:`edge.runtime.ventricular.VtConfig`.
    vflutter : the ``[rhythm.vflutter]`` table,
        :class:`edge.runtime.ventricular.FlutterConfirmConfig`: with the ventricular stage on,
        a ``vflutter`` (the R-peak detector's flutter flag) is an alarm only when the VF stage
        sees a shockable window around it, else a warning.
    alarm_chain : with the ventricular stage on, the lower alerts (``vflutter``, ``v_run``,
        rate, pattern, ``svt``, ``afib``) wait under an open ``vfib`` episode: one that ends
        inside it is never raised, one still open when it ends is raised then
        (:mod:`edge.runtime.chain`).
    preset : the ventricular alarms' defaults for the kind of recorder (:data:`PRESETS`):
        ``"monitor"`` (bedside or any monitor a clinician may watch: every default as it is)
        or ``"handheld"`` (hand-held and ambulatory recorders, where hand and body motion is
        far more common than VF: ``vf.models = "handheld"``, ``vflutter.confirm = true``,
        ``vt.alarm_min_beats = 5``). A key set in its own table wins over the preset.
    """

    enabled: bool = True
    beat_context: bool = True
    svt: SvtRunConfig = field(default_factory=SvtRunConfig)
    analyser: RhythmConfig = field(default_factory=RhythmConfig)
    ventricular: bool = True
    vf: VentricularConfig = field(default_factory=VentricularConfig)
    vt: VtConfig = field(default_factory=VtConfig)
    vflutter: FlutterConfirmConfig = field(default_factory=FlutterConfirmConfig)
    alarm_chain: bool = True
    preset: str = "monitor"

    def __post_init__(self) -> None:
        if self.preset not in PRESETS:
            raise ConfigError("preset", f"must be one of {', '.join(map(repr, PRESETS))}, "
                                        f"got {self.preset!r}")


#: ``[rhythm] preset``: the defaults each preset gives to ``[rhythm.<table>] <key>`` (a key set
#: in the table itself wins). Measured: ``README.md`` (VT/VF), ``ventricular.design.md``
#: sections 9-11.
PRESETS: dict[str, dict[tuple[str, str], Any]] = {
    "monitor": {},
    "handheld": {("vf", "models"): "handheld", ("vflutter", "confirm"): True,
                 ("vt", "alarm_min_beats"): 5},
}


@dataclass(frozen=True, kw_only=True)
class SinkSettings:
    """The ``[sinks]`` table: one sub-table per output."""

    terminal: TerminalSinkSettings = field(default_factory=TerminalSinkSettings)
    stdout: StdoutSinkSettings = field(default_factory=StdoutSinkSettings)
    jsonl: JsonlSinkSettings = field(default_factory=JsonlSinkSettings)
    wfdb: WfdbSinkSettings = field(default_factory=WfdbSinkSettings)
    mqtt: MqttSinkSettings = field(default_factory=MqttSinkSettings)

    def enabled(self) -> list[str]:
        """Names of the enabled sinks, in table order."""
        return [f.name for f in dataclasses.fields(self) if getattr(self, f.name).enabled]


#: Sink table names, in the order :func:`edge.runtime.loader.build_sinks` opens them.
SINK_NAMES = tuple(f.name for f in dataclasses.fields(SinkSettings))


@dataclass(frozen=True, kw_only=True)
class DaemonConfig:
    """The whole daemon configuration (see :mod:`edge.runtime.settings`)."""

    source: SourceSettings
    pipeline: PipelineSettings = field(default_factory=PipelineSettings)
    quality: QualitySettings = field(default_factory=QualitySettings)
    alerts: AlertConfig = field(default_factory=AlertConfig)
    outputs: OutputSettings = field(default_factory=OutputSettings)
    daemon: DaemonSettings = field(default_factory=DaemonSettings)
    sinks: SinkSettings = field(default_factory=SinkSettings)
    rhythm: RhythmSettings = field(default_factory=RhythmSettings)
    alarm_fallback: AlarmFallbackSettings = field(default_factory=AlarmFallbackSettings)

    def quality_config(self, fs_hz: float) -> QualityConfig:
        """The :class:`~edge.dsp.quality.QualityConfig` for a device at ``fs_hz`` (Hz).

        Raises
        ------
        ConfigError
            ``field`` is ``quality.<name>`` (a field that is valid at 360 Hz may not be at the
            device's rate, e.g. ``window_s`` too short for 16 samples).
        """
        try:
            return self.quality.quality_config(fs_hz)
        except ConfigError as exc:
            raise ConfigError(f"quality.{exc.field}", exc.rule) from exc
