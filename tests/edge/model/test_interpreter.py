"""The interpreter (:mod:`edge.model.interpreter`): the runtime's start-up INFO line is dropped
from fd 2, everything else written there is kept, in order."""
import logging
import os
import threading

import pytest

from edge.errors import ModelError
from edge.model.bundled import default_model_path
from edge.model.interpreter import create_interpreter, native_stderr_filtered


def test_only_the_known_info_lines_are_dropped(capfd, caplog):
    with caplog.at_level(logging.DEBUG, logger="edge.model.interpreter"):
        with native_stderr_filtered():
            os.write(2, b"before\nINFO: Created TensorFlow Lite XNNPACK delegate for CPU.\n"
                        b"ERROR: a real problem\nINFO: something else\nno newline")
    err = capfd.readouterr().err
    assert err == "before\nERROR: a real problem\nINFO: something else\nno newline"
    assert "XNNPACK delegate" in caplog.text  # kept for -vv


def test_stderr_is_restored_after_an_exception(capfd):
    with pytest.raises(RuntimeError):
        with native_stderr_filtered():
            os.write(2, b"said before failing\n")
            raise RuntimeError("boom")
    os.write(2, b"after\n")
    assert capfd.readouterr().err == "said before failing\nafter\n"


def test_creating_an_interpreter_prints_nothing(capfd):
    create_interpreter(default_model_path().read_bytes())
    assert capfd.readouterr().err == ""


def test_threads_loading_at_once_lose_nothing(capfd):
    def load():
        create_interpreter(default_model_path().read_bytes())
    threads = [threading.Thread(target=load) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    os.write(2, b"still here\n")
    assert capfd.readouterr().err == "still here\n"


def test_a_model_the_runtime_refuses_is_one_line_naming_it():
    data = bytearray(default_model_path().read_bytes())
    data[100:400] = bytes(300)
    with pytest.raises(ModelError) as err:
        create_interpreter(bytes(data), name="/models/x.tflite")
    assert str(err.value).startswith("/models/x.tflite: the interpreter cannot load this model")
    assert "\n" not in str(err.value)
