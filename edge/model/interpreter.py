"""The TFLite interpreter: which runtime, and creating it without its start-up chatter.

:func:`load_interpreter_class` picks ``ai_edge_litert`` (else ``tflite_runtime``, else
``tensorflow.lite``). :func:`create_interpreter` builds and allocates one for a model's bytes.

LiteRT's C++ runtime announces the XNNPACK delegate it applies while the tensors are allocated
(``INFO: Created TensorFlow Lite XNNPACK delegate for CPU.``), straight on file descriptor 2,
so every ``ecg-edge`` command printed it. Neither ``TF_CPP_MIN_LOG_LEVEL`` nor any Python option
reaches that logger (``ai_edge_litert`` 2.3 exposes no ``LoggerOptions``), and the only switch
that removes the line, ``OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES``, removes XNNPACK too
(other kernels: other timings, and probabilities no longer bit-identical). So
:func:`native_stderr_filtered` points fd 2 at a temporary file for the few milliseconds of
creation and first inference, then writes back everything that was written there except the
known informational lines (logged at DEBUG instead): real errors and warnings still reach the
user, in order. A lock serialises the redirect between threads; another thread's writes to
stderr during the window are delayed, never lost.
"""
from __future__ import annotations

import logging
import os
import re
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from edge.errors import ModelError

__all__ = ["load_interpreter_class", "create_interpreter", "native_stderr_filtered",
           "NATIVE_INFO_LINES"]

logger = logging.getLogger(__name__)

#: Lines of the native runtime that carry no news for the user (dropped from stderr, logged
#: at DEBUG).
NATIVE_INFO_LINES = (
    re.compile(rb"^INFO: Created TensorFlow Lite XNNPACK delegate for CPU\.\s*$"),
    re.compile(rb"^INFO: Initialized TensorFlow Lite runtime\.\s*$"),
)

_REDIRECT_LOCK = threading.Lock()


def load_interpreter_class():
    """The TFLite ``Interpreter`` class: ai_edge_litert, else tflite_runtime, else TF."""
    try:
        from ai_edge_litert.interpreter import Interpreter  # noqa: PLC0415
        return Interpreter
    except ImportError:
        pass
    try:
        from tflite_runtime.interpreter import Interpreter  # noqa: PLC0415
        logger.info("ai_edge_litert not installed: using tflite_runtime")
        return Interpreter
    except ImportError:
        pass
    try:
        import tensorflow as tf  # noqa: PLC0415
        logger.warning("no LiteRT runtime installed: falling back to tensorflow.lite")
        return tf.lite.Interpreter
    except ImportError as exc:
        raise ModelError("no TFLite interpreter: pip install ai-edge-litert") from exc


def _flush_python_stderr() -> None:
    try:
        sys.stderr.flush()
    except (AttributeError, OSError, ValueError):
        pass


@contextmanager
def native_stderr_filtered() -> Iterator[None]:
    """Capture file descriptor 2 for the duration of the block, then write back every line
    except :data:`NATIVE_INFO_LINES`. Without a usable fd 2 the block runs unfiltered."""
    with _REDIRECT_LOCK:
        _flush_python_stderr()
        try:
            saved = os.dup(2)
        except OSError:
            yield
            return
        try:
            with tempfile.TemporaryFile() as tmp:
                os.dup2(tmp.fileno(), 2)
                try:
                    yield
                finally:
                    _flush_python_stderr()
                    os.dup2(saved, 2)
                    tmp.seek(0)
                    _replay(tmp.read())
        finally:
            os.close(saved)


def _replay(data: bytes) -> None:
    kept = []
    for line in data.splitlines(keepends=True):
        if any(p.match(line) for p in NATIVE_INFO_LINES):
            logger.debug("LiteRT: %s", line.decode("utf-8", "replace").strip())
        else:
            kept.append(line)
    out = b"".join(kept)
    while out:
        try:
            n = os.write(2, out)
        except OSError:
            return
        out = out[n:]


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def create_interpreter(model_bytes: bytes, *, num_threads: int = 1, name: str = "model"):
    """A TFLite interpreter for ``model_bytes`` with its tensors allocated (the runtime's
    start-up INFO line filtered out); :class:`~edge.errors.ModelError` naming ``name`` (the
    file) when the runtime refuses the model."""
    interpreter_cls = load_interpreter_class()
    try:
        with native_stderr_filtered():
            interp = interpreter_cls(model_content=model_bytes, num_threads=num_threads)
            interp.allocate_tensors()
    except (ValueError, RuntimeError) as exc:
        raise ModelError(f"{name}: the interpreter cannot load this model: {_one_line(exc)}") \
            from exc
    return interp
