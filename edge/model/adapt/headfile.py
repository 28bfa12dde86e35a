"""The fitted wearer head (:class:`WearerHead`) and its file, the adapted model (``.npz``).

The file is an uncompressed numpy ``.npz`` archive (no pickles) of up to ~200 kB:

``meta``             0-d unicode array: JSON with ``format`` (:data:`ADAPTED_FORMAT`),
                     ``classes``, ``adapted``, ``fallback``, ``counts``, ``base_sha256``,
                     ``base_model_version``, ``base_file``, ``embedding_size``, ``config``
                     (:meth:`AdaptConfig.to_dict`), ``info``, ``template_reach`` (null = inf)
``mean``, ``std``    float32 (n_inputs,): standardisation of the head's inputs
``weights``          float32 (n_inputs + 1, n_classes)
``templates``        optional float32 (m, n_inputs), with ``template_labels`` int8 (m,)

:meth:`WearerHead.load` checks the archive before numpy parses it (zip signature, member CRCs,
expected members, dtypes and shapes), so a damaged file -- empty, truncated, bytes flipped, or
something else entirely -- gives one :class:`~edge.errors.AdaptedModelError` naming the file and
what is wrong. A file written by an older ecg-edge, whose ``config`` lacks settings added
since, is read as that version applied it (:data:`LEGACY_CONFIG`: the features it did not have
are off).
"""
from __future__ import annotations

import hashlib
import io
import json
import logging
import lzma
import os
import struct
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edge.errors import AdaptedModelError, ConfigError
from edge.model.adapt.residual import apply_residual, head_inputs
from edge.model.adapt.settings import AdaptConfig
from edge.model.adapt.vote import ectopic_timing, template_vote

__all__ = ["ADAPTED_FORMAT", "LEGACY_CONFIG", "WearerHead", "model_sha256"]

logger = logging.getLogger(__name__)

#: Format tag (and version) of the adapted model file.
ADAPTED_FORMAT = "ecg-edge-adapted-head/1"

#: Settings added after the first head files were written, with the value that reproduces
#: how a file without them is applied (the feature did not exist: off).
LEGACY_CONFIG: dict[str, Any] = {
    "class_min_beats": {}, "max_fallback_gain": None, "exact_fallback": (),
    "template_k": 0, "template_classes": (), "template_vote_unadapted": False,
    "template_novelty": None, "novel_ectopic_log": None,
}
#: Settings every head file has had, and that applying the head reads.
_REQUIRED_CONFIG = ("use_embedding", "use_rr", "prob_floor")
#: Settings applying the head reads when its templates vote.
_REQUIRED_FOR_TEMPLATES = ("template_weight", "template_floor")

_ZIP_SIGNATURE = b"PK\x03\x04"
#: What :mod:`zipfile` raises on damaged bytes (a flipped version, method, flag, length or
#: offset field each gives another one).
_ARCHIVE_ERRORS = (zipfile.BadZipFile, zlib.error, lzma.LZMAError, struct.error, OSError,
                   EOFError, ValueError, NotImplementedError, RuntimeError, LookupError,
                   TypeError, OverflowError)
_ARRAYS = ("mean", "std", "weights")
_TEMPLATE_ARRAYS = ("templates", "template_labels")


def model_sha256(path: str | os.PathLike) -> str:
    """SHA-256 (hex) of a model file: the identity an adapted head is bound to."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@dataclass(frozen=True, kw_only=True)
class WearerHead:
    """A fitted per-wearer head (the adapted model file's content).

    Attributes
    ----------
    classes : class order of the base model (``N S V F Q``).
    adapted : classes whose scores the head changes.
    fallback : classes kept at the base model's score, with the reason (``"3 beats < 5"``).
    counts : labelled beats per class in the adaptation window.
    mean, std : standardisation of the head's inputs, float32 (n_inputs,).
    weights : float32 (n_inputs + 1, n_classes); the last row is the per-class offset; the
        columns of non-adapted classes are zero.
    base_sha256, base_model_version, base_file : the base model this head belongs to.
    embedding_size : embedding values per beat (0 when the embedding is not used).
    config : the :class:`AdaptConfig` it was fitted with.
    info : free-form facts (fit time, disagreement with the base model, record name...).
    templates : float32 (m, n_inputs) standardised head inputs of the labelled beats kept as
        wearer templates (``None``: template vote off).
    template_labels : int8 (m,) their class indices into ``classes``.
    template_reach : distance (standardised units) beyond which a beat is new to the wearer
        and the templates do not vote (``inf``: always vote).
    """

    classes: tuple[str, ...]
    adapted: tuple[str, ...]
    fallback: dict[str, str]
    counts: dict[str, int]
    mean: np.ndarray
    std: np.ndarray
    weights: np.ndarray
    base_sha256: str
    base_model_version: str
    base_file: str
    embedding_size: int
    config: AdaptConfig
    info: dict = field(default_factory=dict)
    templates: np.ndarray | None = None
    template_labels: np.ndarray | None = None
    template_reach: float = float("inf")

    def __post_init__(self) -> None:
        if not isinstance(self.config, AdaptConfig):
            raise AdaptedModelError(f"config must be an AdaptConfig, got "
                                    f"{type(self.config).__name__}")
        if self.mean.ndim != 1 or self.weights.ndim != 2:
            raise AdaptedModelError(f"inconsistent head shapes: mean {self.mean.shape}, "
                                    f"weights {self.weights.shape}")
        n_in = int(self.mean.shape[0])
        if self.std.shape != (n_in,) or self.weights.shape != (n_in + 1, len(self.classes)):
            raise AdaptedModelError(f"inconsistent head shapes: mean {self.mean.shape}, std "
                                    f"{self.std.shape}, weights {self.weights.shape}")
        if (self.templates is None) != (self.template_labels is None):
            raise AdaptedModelError("templates and template_labels go together")
        if self.templates is not None:
            m = self.template_labels.shape[0] if self.template_labels.ndim else 0
            if self.templates.shape != (m, n_in) or self.template_labels.ndim != 1 or m == 0:
                raise AdaptedModelError(f"inconsistent templates: {self.templates.shape}, "
                                        f"labels {self.template_labels.shape}, {n_in} inputs")
            if not np.all(np.isfinite(self.templates)) or not (
                    0 <= self.template_labels.min() and self.template_labels.max()
                    < len(self.classes)):
                raise AdaptedModelError("templates must be finite with valid class indices")
        if not (np.all(np.isfinite(self.mean)) and np.all(np.isfinite(self.weights))
                and np.all(np.isfinite(self.std)) and np.all(self.std > 0)):
            raise AdaptedModelError("head weights must be finite and std positive")

    # --- the file ---------------------------------------------------------------------------

    def save(self, path: str | os.PathLike) -> Path:
        """Write the head as ``.npz`` (no pickles) and return the path."""
        path = Path(path)
        meta = {"format": ADAPTED_FORMAT, "classes": list(self.classes),
                "adapted": list(self.adapted), "fallback": self.fallback,
                "counts": self.counts, "base_sha256": self.base_sha256,
                "base_model_version": self.base_model_version, "base_file": self.base_file,
                "embedding_size": self.embedding_size, "config": self.config.to_dict(),
                "info": self.info,
                "template_reach": None if np.isinf(self.template_reach) else
                float(self.template_reach)}
        path.parent.mkdir(parents=True, exist_ok=True)
        extra = {} if self.templates is None else {
            "templates": self.templates.astype(np.float32),
            "template_labels": self.template_labels.astype(np.int8)}
        with open(path, "wb") as fh:  # np.savez would append ".npz" to a bare name
            np.savez(fh, meta=np.array(json.dumps(meta, sort_keys=True)),
                     mean=self.mean.astype(np.float32), std=self.std.astype(np.float32),
                     weights=self.weights.astype(np.float32), **extra)
        return path

    @staticmethod
    def load(path: str | os.PathLike) -> "WearerHead":
        """Read a head written by :meth:`save`.

        Raises
        ------
        AdaptedModelError
            Naming the file and what is wrong: missing, empty, not an ``.npz`` archive,
            truncated or damaged (CRC), a member missing or of the wrong type, another format,
            or an incomplete or invalid ``meta``/``config``.
        """
        path = Path(path)
        if path.is_dir():
            raise AdaptedModelError("a folder, not an adapted model file (the .npz that "
                                    "`ecg-edge adapt --out` wrote)", str(path))
        if not path.is_file():
            raise AdaptedModelError("adapted model file not found", str(path))
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise AdaptedModelError(f"cannot read the file ({exc.strerror or _text(exc)})",
                                    str(path)) from exc
        meta, arrays = _read_archive(data, str(path))
        return _head_from(meta, arrays, str(path))

    # --- applying it ------------------------------------------------------------------------

    @property
    def voted_classes(self) -> tuple[str, ...]:
        """The classes the wearer templates vote on: the ``template_classes`` that were
        adapted, or all of them with ``template_vote_unadapted``."""
        unadapted = self.config.template_vote_unadapted
        return tuple(c for c in self.classes if c in self.config.template_classes
                     and (c in self.adapted or unadapted))

    def inputs(self, embedding: np.ndarray | None, features_std: np.ndarray) -> np.ndarray:
        """The head's raw input matrix (before its own standardisation) from the dequantized
        int8 embedding (n, k) and the standardised features (n, 14)."""
        return head_inputs(embedding, features_std, use_embedding=self.config.use_embedding,
                           use_rr=self.config.use_rr)

    def apply(self, proba: np.ndarray, x: np.ndarray,
              features: np.ndarray | None = None) -> np.ndarray:
        """Adapted probabilities (float32, (n, n_classes)) from base probabilities, the head
        inputs of :meth:`inputs` and the beats' unstandardised scalar features (n, 14) (the
        timing condition of the novelty guard reads their RR ratios)."""
        return self.apply_detail(proba, x, features)[0]

    def apply_detail(self, proba: np.ndarray, x: np.ndarray,
                     features: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`apply`, plus a bool mask of the beats the templates found *new* to the wearer
        (farther than :attr:`template_reach` from every template; all False when the templates
        do not vote).

        Raises
        ------
        AdaptError
            The guard has a timing condition (``novel_ectopic_log``) and ``features`` is
            missing or of the wrong shape.
        """
        gain = self.config.max_fallback_gain
        free = np.array([c in self.adapted for c in self.classes])
        exact = np.array([c in self.config.exact_fallback for c in self.classes])
        q = apply_residual(proba, x, self.mean, self.std, self.weights,
                           float(self.config.prob_floor), free=free,
                           max_fallback_gain=None if gain is None else float(gain),
                           fixed=exact & ~free)
        return self._vote(q, x, features)

    def _vote(self, q: np.ndarray, x: np.ndarray,
              features: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """``q`` after the wearer-template vote (unchanged when the templates do not vote),
        and the mask of the beats beyond the templates' reach."""
        none_new = np.zeros(len(q), dtype=bool)
        k = int(self.config.template_k)
        if self.templates is None or k == 0 or len(q) == 0:
            return q, none_new
        vote = np.isin(self.classes, self.voted_classes)
        if not vote.any():
            return q, none_new
        xs = ((np.asarray(x, dtype=np.float64) - self.mean) / self.std).astype(np.float32)
        spare = None  # beats the guard may spare (None: any new beat)
        ectopic_log = self.config.novel_ectopic_log
        if ectopic_log is not None and np.isfinite(self.template_reach):
            spare = ectopic_timing(features, float(ectopic_log), len(q))
        q, near = template_vote(q, xs, self.templates, self.template_labels, k, vote,
                                float(self.config.template_weight),
                                float(self.config.template_floor), self.template_reach,
                                spare)
        return q, ~near


# --- reading the file -----------------------------------------------------------------------

def _read_archive(data: bytes, where: str) -> tuple[Any, dict[str, np.ndarray]]:
    """The decoded ``meta`` and the arrays of an adapted model file's bytes."""
    if not data:
        raise AdaptedModelError("empty file (0 bytes): not an ecg-edge adapted model file",
                                where)
    if not data.startswith(_ZIP_SIGNATURE):
        raise AdaptedModelError(f"not an ecg-edge adapted model file: an .npz archive starts "
                                f"with {_ZIP_SIGNATURE!r}, this file with {data[:4]!r}", where)
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except _ARCHIVE_ERRORS as exc:
        raise AdaptedModelError(f"damaged or truncated .npz archive ({len(data)} bytes; "
                                f"{_text(exc)})", where) from exc
    with archive:
        declared = _declared_entries(data)
        if declared is not None and declared != len(archive.infolist()):
            raise AdaptedModelError(f"damaged .npz archive: its directory lists "
                                    f"{len(archive.infolist())} members, its end record "
                                    f"{declared}", where)
        names = set(archive.namelist())
        need = ["meta", *_ARRAYS]
        if names & {f"{k}.npy" for k in _TEMPLATE_ARRAYS}:
            need += list(_TEMPLATE_ARRAYS)
        missing = [k for k in need if f"{k}.npy" not in names]
        if missing:
            raise AdaptedModelError(f"damaged or not an ecg-edge adapted model file: member "
                                    f"{missing[0]!r} is missing (members: "
                                    f"{sorted(names) or 'none'})", where)
        out: dict[str, np.ndarray] = {}
        for key in need:
            out[key] = _read_member(archive, key, where)
    meta_arr = out.pop("meta")
    if meta_arr.dtype.kind != "U" or meta_arr.ndim != 0:
        raise AdaptedModelError(f"member 'meta' must be a text scalar, got {meta_arr.dtype} "
                                f"{meta_arr.shape}", where)
    try:
        meta = json.loads(str(meta_arr))
    except ValueError as exc:
        raise AdaptedModelError(f"member 'meta' is not valid JSON ({_text(exc)})", where) from exc
    for key in (*_ARRAYS, "templates"):
        if key in out and out[key].dtype.kind not in "fiu":
            raise AdaptedModelError(f"member {key!r} must hold numbers, got {out[key].dtype}",
                                    where)
    if "template_labels" in out and out["template_labels"].dtype.kind not in "iu":
        raise AdaptedModelError(f"member 'template_labels' must hold integers, got "
                                f"{out['template_labels'].dtype}", where)
    arrays = {k: np.asarray(out[k], dtype=np.float32) for k in _ARRAYS}
    if "templates" in out:
        arrays["templates"] = np.asarray(out["templates"], dtype=np.float32)
        arrays["template_labels"] = np.asarray(out["template_labels"], dtype=np.int64)
    return meta, arrays


def _text(exc: BaseException) -> str:
    """An exception's message on one line."""
    return " ".join(str(exc).split()) or type(exc).__name__


def _declared_entries(data: bytes) -> int | None:
    """The member count the zip's end-of-central-directory record declares (``None`` if the
    record is not where an archive without a comment has it: :mod:`zipfile` then judges)."""
    end = len(data) - 22
    if end < 0 or data[end:end + 4] != b"PK\x05\x06":
        return None
    return struct.unpack_from("<H", data, end + 10)[0]


def _read_member(archive: zipfile.ZipFile, key: str, where: str) -> np.ndarray:
    """One ``.npy`` member, its CRC checked, no pickles."""
    try:
        raw = archive.read(f"{key}.npy")  # checks the CRC
    except _ARCHIVE_ERRORS as exc:
        raise AdaptedModelError(f"damaged .npz archive: member {key!r} is unreadable "
                                f"({_text(exc)})", where) from exc
    try:
        return np.lib.format.read_array(io.BytesIO(raw), allow_pickle=False)
    except ValueError as exc:
        if "pickle" in str(exc).lower():
            reason = "it holds Python objects, which an adapted model file never does"
        else:
            reason = _text(exc)
        raise AdaptedModelError(f"damaged .npz archive: member {key!r} is not a valid array "
                                f"({reason})", where) from exc
    except (OSError, EOFError, TypeError, UnicodeDecodeError) as exc:
        raise AdaptedModelError(f"damaged .npz archive: member {key!r} is not a valid array "
                                f"({_text(exc)})", where) from exc


def config_from_file(values: Any, where: str) -> AdaptConfig:
    """The :class:`AdaptConfig` of a head file's ``config``; settings the file predates take
    their :data:`LEGACY_CONFIG` value (the head is applied as the version that wrote it did)."""
    if not isinstance(values, dict):
        raise AdaptedModelError(f"meta 'config' must be an object, got "
                                f"{type(values).__name__}", where)
    k = values.get("template_k", 0)
    votes = isinstance(k, int) and not isinstance(k, bool) and k > 0
    missing = [key for key in _REQUIRED_CONFIG if key not in values]
    if votes:
        missing += [key for key in _REQUIRED_FOR_TEMPLATES if key not in values]
    if missing:
        raise AdaptedModelError(f"meta 'config' lacks {missing[0]!r}", where)
    merged = {**{key: v for key, v in LEGACY_CONFIG.items() if key not in values}, **values}
    if "max_templates" not in values and votes:
        merged["max_templates"] = max(AdaptConfig().max_templates, k)
    try:
        return AdaptConfig.from_dict(merged)
    except (ConfigError, TypeError) as exc:
        raise AdaptedModelError(f"meta 'config': {_text(exc)}", where) from exc


def _head_from(meta: Any, arrays: dict[str, np.ndarray], where: str) -> WearerHead:
    if not isinstance(meta, dict) or meta.get("format") != ADAPTED_FORMAT:
        found = meta.get("format") if isinstance(meta, dict) else None
        raise AdaptedModelError(f"format {found!r}, expected {ADAPTED_FORMAT!r}", where)
    config = config_from_file(meta.get("config"), where)
    try:
        return WearerHead(classes=tuple(meta["classes"]), adapted=tuple(meta["adapted"]),
                          fallback=dict(meta["fallback"]), counts=dict(meta["counts"]),
                          base_sha256=str(meta["base_sha256"]),
                          base_model_version=str(meta["base_model_version"]),
                          base_file=str(meta["base_file"]),
                          embedding_size=int(meta["embedding_size"]),
                          config=config, info=dict(meta.get("info", {})),
                          template_reach=float("inf") if meta.get("template_reach") is None
                          else float(meta["template_reach"]), **arrays)
    except KeyError as exc:
        raise AdaptedModelError(f"incomplete adapted model file: meta lacks {exc.args[0]!r}",
                                where) from exc
    except (TypeError, ValueError) as exc:
        raise AdaptedModelError(f"invalid meta ({_text(exc)})", where) from exc
    except AdaptedModelError as exc:
        raise AdaptedModelError(_text(exc), where) from exc
