"""Seal model files with their own SHA-256, or check their seals (:mod:`edge.model.seal`).

    python convert/seal.py MODEL...          seal each file in place (a sealed one is left as is)
    python convert/seal.py --check MODEL...  only check: each file sealed and intact, unsealed,
                                             or damaged
    python convert/seal.py --bundled [--check]   the models in edge/models

A MODEL is an ecg-edge ``.tflite`` (its contract gains ``file_sha256``, and
``sealed_from_sha256``, the digest of the file as it was, so heads adapted on it stay valid;
adding the fields rewrites the flatbuffer, which needs TensorFlow, the workstation install)
or a rhythm tree model (``.json``; gains ``sha256``, no TensorFlow needed). Every file
``convert/quantize.py``, ``convert/strip_net.py``, ``convert/vf_net.py`` and the rhythm training
write is sealed already; this tool is for files made before seals existed. A file whose content
does not match its seal is damaged and is never resealed.

Exit status: 0 when every file ends sealed and intact, 1 when one is damaged, unreadable, not a
model, or (``--check``) unsealed, 2 for a usage error.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from edge.errors import ModelError  # noqa: E402
from edge.model.seal import SEALED_FROM_KEY, seal_json, verify_json  # noqa: E402
from edge.model.tflite_meta import read_contract, read_sealed_contract  # noqa: E402

__all__ = ["bundled_models", "seal_file", "check_file", "main"]

MODELS_DIR = Path(__file__).resolve().parents[1] / "edge" / "models"


def bundled_models() -> list[Path]:
    """The deployable model files in ``edge/models`` (networks and rhythm tree models)."""
    out = sorted(MODELS_DIR.glob("*.tflite"))
    for p in sorted(MODELS_DIR.glob("rhythm_*.json")):
        try:
            doc = json.loads(p.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            out.append(p)  # reported when checked
            continue
        if isinstance(doc, dict) and "format" in doc:
            out.append(p)
    return out


def _read(path: Path) -> bytes:
    if path.is_dir():
        raise ModelError("a directory, not a model file", str(path))
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise ModelError("no such file", str(path)) from None
    except OSError as exc:
        raise ModelError(f"cannot read it ({exc.strerror or exc})", str(path)) from None


def _json_doc(path: Path, data: bytes) -> dict:
    if not data.strip():
        raise ModelError("an empty file, not a model", str(path))
    try:
        doc = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ModelError("not a model: neither a .tflite (its identifier 'TFL3' at byte 4 is "
                         "missing) nor a JSON rhythm model", str(path)) from None
    if not isinstance(doc, dict) or "format" not in doc:
        raise ModelError("not a model file (a JSON document without a 'format')", str(path))
    return doc


def check_file(path: str | os.PathLike) -> str:
    """The file's seal after checking it (``""``: unsealed); :class:`ModelError` when it is
    damaged, unreadable or not a model."""
    p = Path(path)
    return _checked(p, _read(p))


def _checked(p: Path, data: bytes) -> str:
    """:func:`check_file` of bytes already read from ``p``."""
    try:
        if data[4:8] == b"TFL3":
            return read_sealed_contract(data)[1].sha256
        return verify_json(_json_doc(p, data))
    except ModelError as exc:
        raise ModelError(exc.reason, str(p)) from None


def _write_atomically(path: Path, data: bytes) -> None:
    """Replace the file (a symlink's target) by ``data`` through a temporary file beside it,
    keeping its mode and, where allowed, its owner."""
    target = path.resolve()
    tmp = target.with_name(target.name + ".sealing")
    try:
        st = target.stat()
        tmp.write_bytes(data)
        os.chmod(tmp, st.st_mode & 0o7777)
        try:
            os.chown(tmp, st.st_uid, st.st_gid)
        except (PermissionError, AttributeError):  # not root / no chown: the writer owns it
            pass
        os.replace(tmp, target)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise ModelError(f"cannot write the sealed file ({exc.strerror or exc})",
                         str(path)) from None


def seal_file(path: str | os.PathLike) -> tuple[str, bool]:
    """Seal ``path`` in place; (its seal, whether the file changed). A sealed file is left as
    is; a damaged one is refused (:class:`ModelError`)."""
    p = Path(path)
    data = _read(p)
    seal = _checked(p, data)
    if seal:
        return seal, False
    if data[4:8] == b"TFL3":
        try:
            from convert.quantize import embed_contract  # noqa: PLC0415 (needs TensorFlow)

            # the digest the file had: heads adapted on it stay valid (edge.model.adapt)
            out = embed_contract(data, {**read_contract(data),
                                        SEALED_FROM_KEY: hashlib.sha256(data).hexdigest()})
        except ImportError as exc:
            raise ModelError(f"sealing a .tflite rewrites its flatbuffer, which needs "
                             f"TensorFlow (the workstation install: pip install "
                             f"'ecg-edge[train]'; {exc.name or exc})", str(p)) from None
    else:
        text = data.decode("utf-8")
        try:
            sealed = json.dumps(seal_json(_json_doc(p, data)), separators=(",", ":"),
                                allow_nan=False)
        except ValueError:
            raise ModelError("not a usable model: it holds NaN or infinity", str(p)) from None
        out = (sealed + ("\n" if text.endswith("\n") else "")).encode("utf-8")
    _write_atomically(p, out)
    return check_file(p), True


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="python convert/seal.py",
        description="Seal model files with their own SHA-256 (in place: the file is replaced "
                    "by its sealed form, mode and owner kept), or check their seals. A .tflite "
                    "is sealed through TensorFlow (the workstation install); a rhythm .json "
                    "model needs nothing more. A damaged file is never resealed.",
        epilog="Exit status: 0 every file sealed and intact; 1 a file damaged, unreadable, "
               "not a model or (--check) not sealed; 2 a usage error; 130 interrupted.")
    ap.add_argument("models", nargs="*", metavar="MODEL", help=".tflite or rhythm .json files")
    ap.add_argument("--bundled", action="store_true", help="the models in edge/models")
    ap.add_argument("--check", action="store_true", help="only check, change nothing")
    return ap


def main(argv: list[str] | None = None) -> int:
    ap = build_parser()
    args = ap.parse_args(argv)
    paths = [Path(m) for m in args.models] + (bundled_models() if args.bundled else [])
    if not paths:
        ap.error("give MODEL files or --bundled")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    failed = 0
    for p in paths:
        try:
            if args.check:
                seal = check_file(p)
                if not seal:
                    failed += 1
                    print(f"{p}: not sealed (damage cannot be detected; seal it: "
                          f"python convert/seal.py {p})")
                    continue
                print(f"{p}: intact (sha256 {seal[:16]}...)")
            else:
                seal, changed = seal_file(p)
                print(f"{p}: {'sealed' if changed else 'already sealed'} "
                      f"(sha256 {seal[:16]}...)")
        except ModelError as exc:
            failed += 1
            print(f"seal: error: {exc}", file=sys.stderr)
        except KeyboardInterrupt:
            print("seal: interrupted; files written so far are sealed, the rest unchanged",
                  file=sys.stderr)
            return 130
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
