"""Run ``ecg-sim`` in a subprocess and wait for its device path: :func:`spawn_replay`."""
from __future__ import annotations

import os
import select
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from firmware_bridge.errors import ReplayError

__all__ = ["ReplayProcess", "spawn_replay"]


class ReplayProcess:
    """``python -m firmware_bridge.replay`` running in a subprocess (see :func:`spawn_replay`).

    Attributes
    ----------
    device_path : str
        The first stdout line of the simulator (pty path or port).
    process : subprocess.Popen
    """

    def __init__(self, process: subprocess.Popen, device_path: str) -> None:
        self.process = process
        self.device_path = device_path

    def stop(self, timeout_s: float = 5.0) -> int:
        """Terminate (SIGTERM, then SIGKILL) and return the exit code."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout_s)
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()
        return int(self.process.returncode)

    def __enter__(self) -> ReplayProcess:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def spawn_replay(args: Sequence[str], *, env: dict[str, str] | None = None,
                 startup_timeout_s: float = 30.0) -> ReplayProcess:
    """Run ``python -m firmware_bridge.replay ARGS`` and wait for its device path.

    Raises
    ------
    ReplayError
        If the simulator exits or prints nothing within ``startup_timeout_s``.
    """
    cmd = [sys.executable, "-m", "firmware_bridge.replay", *args]
    run_env = dict(os.environ if env is None else env)
    root = str(Path(__file__).resolve().parents[2])
    run_env["PYTHONPATH"] = root + (os.pathsep + run_env["PYTHONPATH"]
                                    if run_env.get("PYTHONPATH") else "")
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=run_env)
    ready, _, _ = select.select([proc.stdout], [], [], startup_timeout_s)
    line = proc.stdout.readline().decode().strip() if ready else ""
    if not line:
        proc.kill()
        _, err = proc.communicate(timeout=5)
        raise ReplayError(f"simulator did not start ({' '.join(cmd)}): "
                          f"{err.decode(errors='replace')[-2000:]}")
    return ReplayProcess(proc, line)
