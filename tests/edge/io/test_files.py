"""``write_atomically``: the whole new file or the old one, never a part; no temporary file
left; an error names the user's file."""
import os
from pathlib import Path

import pytest

from edge.io.files import write_atomically


def test_the_file_is_replaced_whole_and_keeps_its_permissions(tmp_path):
    out = tmp_path / "a.txt"
    out.write_text("old")
    os.chmod(out, 0o640)
    write_atomically(out, lambda tmp: Path(tmp).write_text("new"))
    assert out.read_text() == "new" and out.stat().st_mode & 0o777 == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]


def test_a_failed_write_leaves_the_old_file_and_no_temporary_one(tmp_path):
    out = tmp_path / "a.txt"
    out.write_text("old")

    def half(tmp):
        Path(tmp).write_text("ha")
        raise OSError(28, "No space left on device", str(tmp))

    with pytest.raises(OSError) as exc:
        write_atomically(out, half)
    assert exc.value.filename == str(out)  # the user's file, not the temporary one
    assert out.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["a.txt"]
