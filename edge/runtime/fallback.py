"""Local fallback when alarms do not reach the clinic.

The MQTT sink keeps undelivered alerts in its outbox and says how long the oldest has waited
(:class:`~edge.sinks.base.AlarmBacklog`). :class:`AlarmFallback` watches that once per daemon
loop turn: when an alert has waited ``after_s`` without the broker acknowledging it, the
daemon

* emits a ``link`` event ``state="alarms_delayed"`` (the terminal and JSON-lines sinks show it
  at once; the MQTT one delivers it with the backlog),
* logs a warning, rings the terminal bell (``bell``, when stderr is a terminal), and
* runs ``command`` -- a buzzer, a GPIO pin (``["gpioset", "gpiochip0", "17=1"]``), a
  notification -- again every ``repeat_s`` while the alerts still wait;

and when every waiting alert has been acknowledged it emits ``state="alarms_delivered"``
(how long it took, how long the oldest waited) and runs ``clear_command``. Both commands get
``ECG_EDGE_ALARM_STATE`` (``delayed`` / ``delivered``), ``ECG_EDGE_ALARMS_WAITING`` and
``ECG_EDGE_ALARM_WAIT_S`` in their environment. Commands run without a shell, in their own
session, one at a time and in order (a buzzer's "off" never overtakes its "on"), without
blocking the daemon: one that fails, cannot start or outlives ``command_timeout_s`` (then
killed) is logged and counted, never fatal.

An alert the sink could not even queue (``AlarmBacklog.lost``: a full disk under the outbox)
is lost for good: the fallback is raised at once, and cleared only once no alert has been
lost for ``after_s`` and none waits (the cleared event counts the lost ones).
"""
from __future__ import annotations

import logging
import math
import os
import shutil
import subprocess
import sys
import time
from collections import deque
from dataclasses import dataclass
from typing import IO, Any

from edge.errors import ConfigError
from edge.events.model import LinkStatusEvent
from edge.sinks.base import AlarmBacklog

__all__ = ["AlarmFallbackSettings", "AlarmFallback"]

logger = logging.getLogger(__name__)


def _number(v: object) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


@dataclass(frozen=True, kw_only=True)
class AlarmFallbackSettings:
    """The ``[alarm_fallback]`` table.

    Attributes
    ----------
    enabled : watch the alert backlog.
    after_s : an alert undelivered this long raises the local fallback (s).
    command : argv run when it does (``[]`` = none), e.g. ``["gpioset", "gpiochip0", "17=1"]``.
    clear_command : argv run when the backlog has been delivered (``[]`` = none).
    bell : ring the terminal bell (BEL on stderr, when it is a terminal).
    repeat_s : while alerts still wait, run ``command`` and ring again this often (s;
        0 = once).
    command_timeout_s : a command still running after this long is killed (s).
    """

    enabled: bool = True
    after_s: float = 10.0
    command: tuple[str, ...] = ()
    clear_command: tuple[str, ...] = ()
    bell: bool = True
    repeat_s: float = 60.0
    command_timeout_s: float = 10.0

    def __post_init__(self) -> None:
        for name in ("enabled", "bell"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(name, "must be true or false")
        if not _number(self.after_s) or not 0.1 <= self.after_s <= 3600:
            raise ConfigError("after_s", f"must lie in [0.1, 3600] s, got {self.after_s!r}")
        if not _number(self.repeat_s) or not (self.repeat_s == 0 or 1 <= self.repeat_s <= 86400):
            raise ConfigError("repeat_s", f"must be 0 (once) or lie in [1, 86400] s, "
                                          f"got {self.repeat_s!r}")
        if not _number(self.command_timeout_s) or not 0 < self.command_timeout_s <= 3600:
            raise ConfigError("command_timeout_s", f"must lie in (0, 3600] s, "
                                                   f"got {self.command_timeout_s!r}")
        for name in ("command", "clear_command"):
            argv = getattr(self, name)
            if not isinstance(argv, tuple) or not all(isinstance(a, str) for a in argv) \
                    or (argv and not argv[0]):
                raise ConfigError(name, f"must be a list of strings (program first), "
                                        f"got {argv!r}")

    def check_commands(self) -> None:
        """Refuse a command whose program cannot be found (call at start-up, so a typo is
        found before an outage needs the command).

        Raises
        ------
        ConfigError
            ``field`` is ``alarm_fallback.command`` or ``alarm_fallback.clear_command``.
        """
        for name in ("command", "clear_command"):
            argv = getattr(self, name)
            if self.enabled and argv and shutil.which(argv[0]) is None:
                raise ConfigError(f"alarm_fallback.{name}",
                                  f"program {argv[0]!r} not found or not executable")


class AlarmFallback:
    """Watches the alert backlog of the sinks (see the module docstring).

    Parameters
    ----------
    settings : AlarmFallbackSettings
    bell_stream : where the bell and the message go (default ``sys.stderr``; only when it is
        a terminal).
    """

    def __init__(self, settings: AlarmFallbackSettings | None = None, *,
                 bell_stream: IO[str] | None = None) -> None:
        self.settings = settings or AlarmFallbackSettings()
        self._bell_stream = bell_stream
        self._delayed_since: float | None = None
        self._last_fire = 0.0
        self._max_age_s = 0.0
        self._lost_seen = 0  # alerts lost (never queued) already raised
        self._last_loss_s = -math.inf
        self._running: tuple[subprocess.Popen, float, str] | None = None
        self._queue: deque[tuple[tuple[str, ...], str, int, float]] = deque()
        self.n_warnings = 0
        self.n_delivered = 0
        self.n_hook_runs = 0
        self.n_hook_failures = 0

    @property
    def delayed(self) -> bool:
        """True while alerts wait longer than ``after_s``."""
        return self._delayed_since is not None

    def check(self, now_s: float, backlogs: list[AlarmBacklog], *,
              device_id: int) -> list[LinkStatusEvent]:
        """One look at the backlogs at Unix time ``now_s``; returns the ``link`` events to
        emit (``alarms_delayed`` / ``alarms_delivered``, for ``device_id``)."""
        self._reap()
        s = self.settings
        if not s.enabled:
            return []
        pending = sum(b.pending for b in backlogs)
        age = max((b.age_s(now_s) for b in backlogs), default=0.0)
        where = ", ".join(f"{b.sink} ({'connected' if b.connected else 'link down'})"
                          for b in backlogs if b.pending)
        lost = sum(b.lost for b in backlogs)
        new_lost = lost - self._lost_seen
        if new_lost > 0:  # alerts that could not even be queued: raised at once
            self._lost_seen = lost
            self._last_loss_s = now_s
            losers = ", ".join(b.sink for b in backlogs if b.lost)
            detail = (f"{new_lost} alert(s) LOST: {losers} could not queue them (see the "
                      f"log); local fallback raised")
            out = [] if self._delayed_since is not None else [self._raised(now_s, detail,
                                                                           device_id)]
            if out or self._due_again(now_s):
                self._fire(now_s, detail, pending + new_lost, age)
            else:
                logger.warning("ALARMS NOT GETTING THROUGH: %s", detail)
            return out
        if self._delayed_since is None:
            if not pending or age < s.after_s:
                return []
            self._max_age_s = age
            detail = (f"{pending} alert(s) not delivered for {age:.1f} s: {where}; "
                      f"local fallback raised")
            event = self._raised(now_s, detail, device_id)
            self._fire(now_s, detail, pending, age)
            return [event]
        self._max_age_s = max(self._max_age_s, age)
        if not pending and now_s - self._last_loss_s < s.after_s:
            return []  # after a loss: clear only once alerts have queued for after_s again
        if not pending:
            took = now_s - self._delayed_since
            detail = (f"alert backlog delivered {took:.1f} s after the fallback was raised; "
                      f"the oldest alert waited {self._max_age_s:.1f} s or more"
                      + (f"; {self._lost_seen} alert(s) lost since the start"
                         if self._lost_seen else ""))
            logger.warning("alarms getting through again: %s", detail)
            self._delayed_since = None
            self.n_delivered += 1
            self._run(s.clear_command, "delivered", 0, 0.0)
            return [LinkStatusEvent(device_id=device_id, state="alarms_delivered",
                                    detail=detail)]
        if self._due_again(now_s):
            self._fire(now_s, f"{pending} alert(s) still not delivered, the oldest for "
                              f"{age:.1f} s", pending, age)
        return []

    def _raised(self, now_s: float, detail: str, device_id: int) -> LinkStatusEvent:
        """The fallback goes up at ``now_s``: its ``alarms_delayed`` event."""
        self._delayed_since = now_s
        self.n_warnings += 1
        return LinkStatusEvent(device_id=device_id, state="alarms_delayed", detail=detail)

    def _due_again(self, now_s: float) -> bool:
        """The fallback is up and ``repeat_s`` has passed since it last rang."""
        s = self.settings
        return bool(s.repeat_s) and now_s - self._last_fire >= s.repeat_s

    def _fire(self, now_s: float, detail: str, waiting: int, age_s: float) -> None:
        """Say it (warning, bell) and run ``command``."""
        logger.warning("ALARMS NOT GETTING THROUGH: %s", detail)
        self._last_fire = now_s
        self._alert_locally(detail)
        self._run(self.settings.command, "delayed", waiting, age_s)

    def poll(self) -> None:
        """Reap the running hook command and start the next queued one (:meth:`check` does
        this too)."""
        self._reap()

    def counters(self) -> dict[str, Any]:
        """For status events: ``delayed`` (now), ``warnings``, ``delivered``, ``hook_runs``,
        ``hook_failures``."""
        return {"delayed": self.delayed, "warnings": self.n_warnings,
                "delivered": self.n_delivered, "hook_runs": self.n_hook_runs,
                "hook_failures": self.n_hook_failures}

    def close(self, timeout_s: float = 2.0) -> None:
        """Wait briefly for running commands, then kill what is left."""
        deadline = time.monotonic() + timeout_s
        while (self._running or self._queue) and time.monotonic() < deadline:
            self._reap()
            time.sleep(0.02)
        if self._running is not None:
            proc, _, state = self._running
            proc.kill()
            proc.wait()
            self.n_hook_failures += 1
            logger.error("alarm_fallback: the %s command was still running at exit; killed",
                         state)
        self._running = None
        self.n_hook_failures += len(self._queue)
        self._queue.clear()

    # -- internals ------------------------------------------------------------------------

    def _alert_locally(self, detail: str) -> None:
        if not self.settings.bell:
            return
        stream = self._bell_stream if self._bell_stream is not None else sys.stderr
        try:
            if self._bell_stream is not None or stream.isatty():
                stream.write(f"\a*** ecg-edge: ALARMS NOT GETTING THROUGH: {detail}\n")
                stream.flush()
        except (OSError, ValueError):
            pass

    def _run(self, argv: tuple[str, ...], state: str, pending: int, age_s: float) -> None:
        """Queue a command; it starts when the one before it has ended."""
        if argv:
            self._queue.append((argv, state, pending, age_s))
            self._reap()

    def _start(self, argv: tuple[str, ...], state: str, pending: int, age_s: float) -> None:
        env = dict(os.environ, ECG_EDGE_ALARM_STATE=state, ECG_EDGE_ALARMS_WAITING=str(pending),
                   ECG_EDGE_ALARM_WAIT_S=f"{age_s:.1f}")
        self.n_hook_runs += 1
        try:
            proc = subprocess.Popen(list(argv), env=env, stdin=subprocess.DEVNULL,
                                    stdout=subprocess.DEVNULL, start_new_session=True)
        except OSError as exc:
            self.n_hook_failures += 1
            logger.error("alarm_fallback: cannot run %s: %s", argv[0], exc)
            return
        self._running = (proc, time.monotonic(), state)

    def _reap(self) -> None:
        """End the running command when it has exited (or timed out), then start the next."""
        while True:
            if self._running is not None:
                proc, t0, state = self._running
                rc = proc.poll()
                if rc is None:
                    if time.monotonic() - t0 <= self.settings.command_timeout_s:
                        return
                    proc.kill()
                    proc.wait()
                    self.n_hook_failures += 1
                    logger.error("alarm_fallback: the %s command ran longer than %g s; killed",
                                 state, self.settings.command_timeout_s)
                elif rc != 0:
                    self.n_hook_failures += 1
                    logger.error("alarm_fallback: the %s command exited with status %d",
                                  state, rc)
                self._running = None
            if not self._queue:
                return
            self._start(*self._queue.popleft())
