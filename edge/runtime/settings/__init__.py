"""Configuration of the edge daemon: a TOML file, command-line overrides, sensible defaults,
as typed, frozen dataclasses built once.

A configuration is a :class:`DaemonConfig` built from nested tables (every table and key is
optional except the source's own required field; see ``deploy/ecg-edge.toml`` for a commented
example)::

    [source]            kind = "serial" | "ble" | "replay", channel (default: a replayed
                        record's channel named as the model's lead, else 0)
    [source.serial]     firmware_bridge.SerialConfig fields (port, baudrate, backoff_*...)
    [source.ble]        firmware_bridge.BleConfig fields (address, profile...)
    [source.replay]     firmware_bridge.ReplayConfig fields (record, speed, fs_hz, faults...)
    [pipeline]          PipelineSettings: model, max_gap_fill_s, num_threads, min_block_ms
    [quality]           QualitySettings: edge.dsp.quality.QualityConfig fields (except fs_hz)
    [alerts]            edge.runtime.alerts.AlertConfig fields
    [outputs]           OutputSettings: hr_interval_s, strip, strip_fs_hz, strip_interval_s,
                        status_interval_s
    [daemon]            DaemonSettings: read_timeout_s, idle_exit_s
    [rhythm]            RhythmSettings: enabled (the AF analyser on every device),
                        beat_context, ventricular, alarm_chain (lower alerts wait under vfib),
                        preset = "monitor" or "handheld" (hand-held recorders: sets
                        rhythm.vf.models = "handheld", rhythm.vflutter.confirm = true,
                        rhythm.vt.alarm_min_beats = 5 where those keys are not set)
    [rhythm.analyser]   edge.rhythm.RhythmConfig fields (window, hysteresis, min_episode_s)
    [rhythm.svt]        edge.rhythm.SvtRunConfig fields (enabled, max_rr_ratio, rr_tolerance,
                        min_rate_bpm, baseline_beats, min_baseline_beats, missed_beat_ratio,
                        relearn_beats): the beats of a supraventricular run reported S
    [rhythm.vf]         edge.rhythm.ventricular.VentricularConfig fields (p_shockable, onset_k,
                        onset_n, offset_windows, model_path, screen, organised_veto and the
                        organised_* settings, net, net_path, models = "monitor" or
                        "handheld"); [rhythm] ventricular = false
                        turns the vfib / vt stage off
    [rhythm.vt]         edge.runtime.ventricular.VtConfig fields (vt_min_beats, vt_rate_bpm,
                        sustained_s, learning_beats, min_v_evidence, alarm_min_beats: a
                        vt run shorter than it is a warning)
    [rhythm.vflutter]   edge.runtime.ventricular.FlutterConfirmConfig fields (confirm,
                        lookback_s, hold_s): vflutter an alarm only when the VF stage sees
                        a shockable window around it, else a warning
    [alarm_fallback]    edge.runtime.fallback.AlarmFallbackSettings: after_s, command, bell...
    [sinks.terminal]    edge.sinks.terminal.TerminalSinkSettings: enabled, color, beats
    [sinks.stdout]      edge.sinks.jsonl.StdoutSinkSettings: enabled (JSON lines on stdout)
    [sinks.jsonl]       edge.sinks.jsonl.JsonlSinkSettings: enabled, path, max_bytes, ...
    [sinks.wfdb]        edge.sinks.wfdb.WfdbSinkSettings: enabled, out_dir, record_name, ext
    [sinks.mqtt]        edge.sinks.mqtt.MqttSinkSettings (see docs/fleet.md)

Modules: :mod:`~edge.runtime.settings.config` (the dataclasses),
:mod:`~edge.runtime.settings.typed` (TOML value -> field type, with errors that name the key
and the rule), :mod:`~edge.runtime.settings.load` (file, ``--set`` overrides, typed options).
Every value is checked against its field's type: ``enabled = "false"`` (a string), a
``vrun_min_beats = 2.7`` or ``pause_s = "long"`` are refused with e.g.
``alerts.pause_s: expected a number, got 'long'``. Unknown keys are errors.
"""
from edge.runtime.alerts import AlertConfig
from edge.runtime.settings.config import (
    SINK_NAMES,
    SOURCE_KINDS,
    DaemonConfig,
    DaemonSettings,
    OutputSettings,
    PipelineSettings,
    QualitySettings,
    RhythmSettings,
    SinkSettings,
    SourceSettings,
)
from edge.runtime.settings.load import (
    apply_options,
    apply_overrides,
    config_from_dict,
    load_config,
    parse_value,
    read_toml,
)
from edge.sinks.jsonl import JsonlSinkSettings, StdoutSinkSettings
from edge.sinks.mqtt import MqttSinkSettings
from edge.sinks.terminal import TerminalSinkSettings
from edge.sinks.wfdb import WfdbSinkSettings

__all__ = [
    "SOURCE_KINDS",
    "SINK_NAMES",
    "SourceSettings",
    "PipelineSettings",
    "QualitySettings",
    "AlertConfig",
    "OutputSettings",
    "DaemonSettings",
    "RhythmSettings",
    "TerminalSinkSettings",
    "StdoutSinkSettings",
    "JsonlSinkSettings",
    "WfdbSinkSettings",
    "MqttSinkSettings",
    "SinkSettings",
    "DaemonConfig",
    "load_config",
    "config_from_dict",
    "apply_overrides",
    "apply_options",
    "parse_value",
    "read_toml",
]
