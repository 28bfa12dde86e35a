"""The int8 beat classifier on the device: a ``.tflite`` model run by LiteRT.

:class:`BeatClassifier` loads a full-int8 model with ``ai_edge_litert`` (falling back to
``tflite_runtime``, then ``tensorflow.lite``; see :mod:`edge.model.interpreter`), reads the
preprocessing contract embedded in the file as a validated
:class:`~edge.model.contract.ModelContract`, and checks it once at load against the pipeline:
processing rate, window, RR and feature definitions, filters, class names; input/output
tensors are int8 with usable quantization parameters. It then runs the model once on a zero
beat: a file that loads but cannot run (damaged weights or tensor data) is refused at load with
a :class:`~edge.errors.ModelError` naming the file, not on the wearer's first beat. Inputs are
quantized with the model's own scale and zero point, outputs dequantized; nothing is
hard-coded.

A model may have a second output, a beat embedding (contract field ``"embedding"``:
``{"name", "size", ...}``, written by ``python convert/quantize.py --embedding``): the two
outputs are told apart by their width, and :meth:`BeatClassifier.predict_with_embedding`
returns both (patient adaptation, :mod:`edge.model.adapt`, fits a per-wearer head on it).
"""
from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge.aami import AAMI_CLASSES
from edge.dsp.beats import WindowConfig
from edge.dsp.features import FEATURE_NAMES, apply_standardization
from edge.dsp.filters import FilterConfig
from edge.errors import ContractError, ModelError
from edge.model.contract import ModelContract, check_contract
from edge.model.interpreter import (
    create_interpreter,
    load_interpreter_class,
    native_stderr_filtered,
)
from edge.model.seal import warn_unsealed
from edge.model.tflite_meta import read_sealed_contract

__all__ = ["BeatClassifier", "load_interpreter_class", "check_contract"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Port:
    index: int
    shape: tuple[int, ...]
    scale: float
    zero_point: int


class BeatClassifier:
    """A loaded, contract-checked int8 beat classifier.

    Parameters
    ----------
    model_path : the ``.tflite`` file (with its embedded contract).
    window, filters : the pipeline's settings the contract must match (defaults: ecg-edge's).
    num_threads : interpreter threads (1 on a Pi serving one wearer).
    allow_float : accept a float (non-quantized) model, for float-vs-int8 comparisons.
    """

    def __init__(self, model_path: str | os.PathLike, *, window: WindowConfig | None = None,
                 filters: FilterConfig | None = None, num_threads: int = 1,
                 allow_float: bool = False) -> None:
        path = Path(model_path)
        if path.is_dir():
            raise ModelError("a directory, not a .tflite model (a trained Keras model folder is "
                             "converted with `python convert/quantize.py`)", str(path))
        if not path.exists():
            raise ModelError(f"model file not found: {str(path)!r}")
        if not path.is_file():
            raise ModelError("not a regular file, not a .tflite model", str(path))
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise ModelError(f"cannot read the model file ({exc.strerror or exc})",
                             str(path)) from None
        self.path = path
        self.size_bytes = len(data)
        self.window = window or WindowConfig()
        self.filters = filters or FilterConfig()
        #: The model's validated preprocessing contract.
        try:
            raw, self.seal = read_sealed_contract(data)
            self.contract: ModelContract = check_contract(
                ModelContract.from_dict(raw), window=self.window, filters=self.filters)
        except ContractError as exc:
            raise ContractError(exc.field, exc.rule, str(path)) from None
        except ModelError as exc:
            raise ModelError(exc.reason, str(path)) from None
        if not self.seal:  # a Seal: false when the file has none
            warn_unsealed(str(path))
        feats = self.contract.features
        self.feature_config = feats.config
        self._mean = np.asarray(feats.standardize.mean, dtype=np.float32)
        self._std = np.asarray(feats.standardize.std, dtype=np.float32)
        self.classes = self.contract.classes
        self._beat_shape = (self.window.length, 2)
        self._interp = create_interpreter(data, num_threads=num_threads, name=str(path))
        try:
            self.quantized = self._check_tensors(allow_float)
        except ContractError as exc:  # named by its file, as the contract's own errors
            raise ContractError(exc.field, exc.rule, str(path)) from None
        self.model_version = self.contract.model_version
        self._smoke_test()
        logger.info("loaded %s (%s, %d bytes, %s)", path.name, self.model_version,
                    self.size_bytes, "int8" if self.quantized else "float")

    def _smoke_test(self) -> None:
        """Run the model once on a zero beat (all-zero window and features): a file damaged
        where the header does not look (weights, tensor data) loads but cannot run, and must be
        refused here rather than on the wearer's first beat."""
        beat = np.zeros((1, self.window.length, 2), dtype=np.float32)
        features = np.zeros((1, len(FEATURE_NAMES)), dtype=np.float32)
        t0 = time.perf_counter()
        try:
            with native_stderr_filtered():
                proba, emb = self._run(beat, features, embedding=self._emb is not None)
        except (RuntimeError, ValueError) as exc:
            reason = " ".join(str(exc).split()) or type(exc).__name__
            raise ModelError(f"{self.path}: the model loads but cannot run ({reason}): the file "
                             "is damaged; copy or convert it again") from exc
        outputs = [proba] + ([emb] if emb is not None else [])
        if not all(np.all(np.isfinite(o)) for o in outputs):
            raise ModelError(f"{self.path}: the model runs but gives non-finite outputs on a "
                             "zero beat: the file is damaged; copy or convert it again")
        #: Wall-clock milliseconds of the zero-beat run at load (it passed).
        self.load_run_ms = 1000.0 * (time.perf_counter() - t0)

    def _port(self, detail: dict) -> _Port:
        scale, zero = detail.get("quantization", (0.0, 0))
        return _Port(int(detail["index"]), tuple(int(v) for v in detail["shape"]),
                     float(scale), int(zero))

    def _check_tensors(self, allow_float: bool) -> bool:
        ins = self._interp.get_input_details()
        outs = self._interp.get_output_details()
        L = self.window.length
        n_f = len(FEATURE_NAMES)
        if len(ins) != 2 or len(outs) not in (1, 2):
            raise ContractError("inputs", f"expected 2 inputs (beat, features) and 1 output "
                                f"(or 2: class scores and an embedding), got {len(ins)} and "
                                f"{len(outs)}")
        beat = [d for d in ins if tuple(d["shape"][1:]) == (L, 2)]
        feat = [d for d in ins if tuple(d["shape"][1:]) == (n_f,)]
        if len(beat) != 1 or len(feat) != 1:
            shapes = [tuple(int(v) for v in d["shape"]) for d in ins]
            raise ContractError("inputs", f"expected shapes (1, {L}, 2) and (1, {n_f}); the model "
                                f"has {shapes} (window or feature count differ from the pipeline)")
        declared = sorted(tuple(spec.shape) for spec in self.contract.inputs)
        if declared != sorted([(L, 2), (n_f,)]):
            raise ContractError("inputs", f"the contract declares input shapes {declared}, the "
                                f"model's graph takes {(L, 2)} and {(n_f,)}: the contract does "
                                "not describe this model")
        out, emb = self._split_outputs(outs)
        ports = (beat[0], feat[0], out) + ((emb,) if emb is not None else ())
        dtypes = {np.dtype(d["dtype"]) for d in ports}
        quantized = dtypes == {np.dtype(np.int8)}
        if not quantized:
            if not allow_float:
                raise ContractError("dtype", f"expected a full-int8 model (int8 inputs and "
                                    f"output), got {sorted(str(d) for d in dtypes)}; convert it "
                                    "with `python convert/quantize.py`")
            if dtypes != {np.dtype(np.float32)}:
                raise ContractError("dtype", f"mixed tensor types {sorted(map(str, dtypes))}")
        self._beat, self._feat, self._out = (self._port(beat[0]), self._port(feat[0]),
                                             self._port(out))
        self._emb = self._port(emb) if emb is not None else None
        if quantized:
            checked = [("beat", self._beat), ("features", self._feat), ("output", self._out)]
            if self._emb is not None:
                checked.append(("embedding", self._emb))
            for name, p in checked:
                if not (np.isfinite(p.scale) and p.scale > 0) or not -128 <= p.zero_point <= 127:
                    raise ContractError(f"quantization.{name}", f"unusable scale {p.scale} / "
                                        f"zero point {p.zero_point}")
        return quantized

    def _split_outputs(self, outs: list[dict]) -> tuple[dict, dict | None]:
        """(class-score output, embedding output or None), told apart by width and checked
        against the contract's ``embedding`` field."""
        n_cls = len(AAMI_CLASSES)
        shapes = [tuple(int(v) for v in d["shape"]) for d in outs]
        spec = self.contract.embedding
        if len(outs) == 1:
            if spec is not None:
                raise ContractError("embedding", f"the contract describes an embedding output "
                                    f"({spec!r}) but the model has one output {shapes[0]}")
            if shapes[0][1:] != (n_cls,):
                raise ContractError("output", f"expected (1, {n_cls}) class scores, got "
                                    f"{shapes[0]}")
            return outs[0], None
        if spec is None:
            raise ContractError("embedding", "the model has 2 outputs but its contract has no "
                                "'embedding' field with an integer 'size'")
        size = spec.size
        if size == n_cls or size < 1:
            raise ContractError("embedding.size", f"must be >= 1 and differ from the class "
                                f"count {n_cls} (outputs are told apart by width), got {size}")
        cls = [d for d, sh in zip(outs, shapes) if sh[1:] == (n_cls,)]
        emb = [d for d, sh in zip(outs, shapes) if sh[1:] == (size,)]
        if len(cls) != 1 or len(emb) != 1:
            raise ContractError("output", f"expected outputs (1, {n_cls}) class scores and "
                                f"(1, {size}) embedding, got {shapes}")
        return cls[0], emb[0]

    @property
    def embedding_size(self) -> int:
        """Values per beat of the embedding output (0 when the model has none)."""
        return 0 if self._emb is None else int(self._emb.shape[-1])

    def _dequantize(self, y: np.ndarray, port: _Port) -> np.ndarray:
        if not self.quantized:
            return y.astype(np.float32)
        return (y.astype(np.float32) - port.zero_point) * port.scale

    def _quantize(self, x: np.ndarray, port: _Port) -> np.ndarray:
        if not self.quantized:
            return x.astype(np.float32)
        # round(x / scale) + zero point, clipped to int8: np.round's arithmetic (rint for 0
        # decimals) and np.clip's (max then min), in place on one temporary
        q = x / port.scale
        np.rint(q, out=q)
        q += port.zero_point
        np.maximum(q, -128, out=q)
        np.minimum(q, 127, out=q)
        return q.astype(np.int8)

    def _run(self, beat: np.ndarray, features: np.ndarray,
             embedding: bool) -> tuple[np.ndarray, np.ndarray | None]:
        b = np.asarray(beat, dtype=np.float32)
        f = apply_standardization(features, self._mean, self._std)
        if b.ndim != 3 or b.shape[1:] != self._beat_shape or f.shape[0] != b.shape[0]:
            raise ModelError(f"beat inputs of shape {b.shape} / {f.shape} do not fit the model")
        if embedding and self._emb is None:
            raise ModelError(f"{self.path.name} has no embedding output: convert the model "
                             "with `python convert/quantize.py --embedding` (or use the "
                             "bundled default_embed.tflite)")
        n = b.shape[0]
        out = np.zeros((n, len(self.classes)), dtype=np.float32)
        emb = np.zeros((n, self.embedding_size), dtype=np.float32) if embedding else None
        if n == 0:
            return out, emb
        # Quantize the whole batch at once (element-wise, so the same values as beat by
        # beat); the model takes one beat per invocation.
        qb = self._quantize(b, self._beat)
        qf = self._quantize(f, self._feat)
        raw: np.ndarray | None = None
        raw_emb: np.ndarray | None = None
        it = self._interp
        set_tensor, invoke, get_tensor = it.set_tensor, it.invoke, it.get_tensor
        bi, fi, oi = self._beat.index, self._feat.index, self._out.index
        for i in range(n):
            set_tensor(bi, qb[i:i + 1])
            set_tensor(fi, qf[i:i + 1])
            invoke()
            y = get_tensor(oi)[0]
            if raw is None:
                raw = np.empty((n,) + y.shape, dtype=y.dtype)
            raw[i] = y
            if embedding:
                e = get_tensor(self._emb.index)[0]
                if raw_emb is None:
                    raw_emb = np.empty((n,) + e.shape, dtype=e.dtype)
                raw_emb[i] = e
        out[:] = self._dequantize(raw, self._out)
        if emb is not None:
            emb[:] = self._dequantize(raw_emb, self._emb)
        return out, emb

    def standardize_features(self, features: np.ndarray) -> np.ndarray:
        """Scalar features (n, 14) standardised as the model sees them (contract mean/std)."""
        return apply_standardization(features, self._mean, self._std)

    def predict_proba(self, beat: np.ndarray, features: np.ndarray) -> np.ndarray:
        """Class probabilities (float32, (n, 5), :attr:`classes` order) for model inputs as
        produced by :class:`edge.dsp.features.BeatFeaturizer` (features not yet standardised)."""
        return self._run(beat, features, embedding=False)[0]

    def predict_with_embedding(self, beat: np.ndarray,
                               features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Class probabilities (n, 5) and the dequantized int8 beat embedding (float32,
        (n, :attr:`embedding_size`)) from one inference per beat; :class:`ModelError` when the
        model has no embedding output."""
        proba, emb = self._run(beat, features, embedding=True)
        return proba, emb

    def predict_embedding(self, beat: np.ndarray, features: np.ndarray) -> np.ndarray:
        """The beat embedding alone (see :meth:`predict_with_embedding`)."""
        return self.predict_with_embedding(beat, features)[1]

    def predict(self, beat: np.ndarray, features: np.ndarray) -> np.ndarray:
        """Class labels (``"N"``, ``"S"``, ...) for a batch of beats."""
        p = self.predict_proba(beat, features)
        return np.asarray(self.classes, dtype=object)[np.argmax(p, axis=1)]
