"""The daemon: settings, one device's processing chain, alerts and the run loop.

``settings``  typed daemon settings (TOML + command-line overrides)
``device``    :class:`DeviceStream`: one device's samples -> events
``alerts``    :class:`RhythmMonitor`: rhythm alerts from classified beats
``timing``    per-stage CPU accounting
``daemon``    :class:`Daemon`: sources in, sinks out, signals, status
``demo``      the no-hardware demo (simulated wearable on a pty)
"""
