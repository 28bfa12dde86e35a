"""The model contract: what the device must do to a beat before the model sees it, typed.

Every ecg-edge ``.tflite`` carries its preprocessing contract as UTF-8 JSON in its metadata
(:mod:`edge.model.tflite_meta`; written by :func:`training.contract.make_contract` and embedded
by ``convert/quantize.py``). :class:`ModelContract` is that JSON read once, validated key by key
(a :class:`~edge.errors.ContractError` names the dotted key and the rule) and frozen; the
classifier reads the object, never the dict. Schema (``contract_version`` 1)::

    contract_version  1
    model_version     str, e.g. "cnnx3-1.0.0"                     (default "unknown")
    classes           [str, ...] output order, e.g. ["N", "S", "V", "F", "Q"]
    lead              str                                         (default "MLII")
    sample_rate_hz    number > 0: processing rate of the whole chain
    preprocess.filter FilterConfig fields              -> ModelContract.filter
    window            WindowConfig fields + length, rr_features -> ModelContract.window
    features          module, config (FeatureConfig fields), beat_channels, names,
                      standardize {mean, std}           -> ModelContract.features
    inputs            [{name, shape, dtype}, ...]       -> ModelContract.inputs
    output            {name, shape, activation, decision} -> ModelContract.output
    embedding         optional {name, size, layer, members}: a second, embedding output
    quantization      optional {scheme, representative, converted_at} (converted models)
    model, training   free-form provenance, kept read-only (not interpreted on the device)

Other top-level keys are kept in :meth:`ModelContract.to_dict` and otherwise ignored; an unknown
key inside ``window``, ``preprocess.filter`` or ``features.config`` is refused (the model may
need a step this version cannot do).

:func:`check_contract` compares a contract with the pipeline's settings (rate, window, filters,
feature definitions, classes) -- the agreement check done once when a model is loaded.
"""
from __future__ import annotations

import copy
import dataclasses
import json
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from edge.aami import AAMI_CLASSES
from edge.dsp.beats import RR_FEATURE_NAMES, WindowConfig
from edge.dsp.features import FEATURE_NAMES, FeatureConfig
from edge.dsp.filters import FilterConfig
from edge.dsp.preprocess import PROCESSING_FS_HZ
from edge.errors import ConfigError, ContractError
from edge.model.tflite_meta import read_contract

__all__ = ["CONTRACT_VERSION", "ModelContract", "WindowContract", "FeaturesContract",
           "Standardization", "TensorSpec", "OutputSpec", "EmbeddingSpec", "QuantizationInfo",
           "check_contract"]

logger = logging.getLogger(__name__)

#: The contract version this device reads.
CONTRACT_VERSION = 1

#: Window keys compared with the pipeline (in this order; the first difference is reported).
_WINDOW_KEYS = ("fs_hz", "before_ms", "after_ms", "align_ms", "local_beats", "long_beats",
                "min_rr_s", "max_rr_s", "length")
#: Filter keys that must agree; a different mains notch only logs a warning.
_FILTER_KEYS = ("fs_hz", "highpass_hz", "highpass_order", "lowpass_hz", "lowpass_order")


# --- typed reading of the JSON ------------------------------------------------------------

def _get(block: Mapping, key: str, where: str) -> Any:
    if key not in block:
        raise ContractError(where, "missing")
    return block[key]


def _object(value: Any, where: str) -> Mapping:
    if not isinstance(value, Mapping):
        raise ContractError(where, f"expected an object, got {type(value).__name__}")
    return value


def _string(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise ContractError(where, f"expected a string, got {value!r}")
    return value


def _number(value: Any, where: str, *, positive: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ContractError(where, f"expected a finite number, got {value!r}")
    if positive and not value > 0:
        raise ContractError(where, f"must be > 0, got {value!r}")
    return value


def _integer(value: Any, where: str, *, minimum: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ContractError(where, f"expected an integer, got {value!r}")
    if minimum is not None and value < minimum:
        raise ContractError(where, f"must be >= {minimum}, got {value}")
    return value


def _strings(value: Any, where: str, *, unique: bool = False,
             non_empty: bool = True) -> tuple[str, ...]:
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise ContractError(where, f"expected a list of strings, got {value!r}")
    if non_empty and not value:
        raise ContractError(where, "must not be empty")
    if unique and len(set(value)) != len(value):
        raise ContractError(where, f"names must be unique, got {list(value)}")
    return tuple(value)


def _shape(value: Any, where: str) -> tuple[int, ...]:
    if not isinstance(value, (list, tuple)) or not value or not all(
            isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in value):
        raise ContractError(where, f"expected a non-empty list of positive integers, got "
                            f"{value!r}")
    return tuple(value)


def _config(cls: type, block: Any, where: str) -> Any:
    """One of the pipeline's own frozen config types built from a contract block; its own
    validation errors are reported under ``where.<field>``."""
    block = _object(block, where)
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(block) - known)
    if unknown:
        raise ContractError(f"{where}.{unknown[0]}", f"unknown key (this version of ecg-edge "
                            f"knows {sorted(known)}): upgrade ecg-edge or re-convert the model")
    types = {f.name: str(f.type) for f in dataclasses.fields(cls)}
    for key, value in block.items():
        if value is None and "None" in types[key]:
            continue
        if types[key] == "int" and (isinstance(value, bool) or not isinstance(value, int)):
            raise ContractError(f"{where}.{key}", f"expected an integer, got {value!r}")
        if isinstance(value, bool) or not isinstance(value, (int, float)) \
                or not math.isfinite(value):
            raise ContractError(f"{where}.{key}", f"expected a finite number, got {value!r}")
    try:
        return cls(**block)
    except ConfigError as exc:
        raise ContractError(f"{where}.{exc.field}", f"breaks the pipeline's rule ({exc})") \
            from exc


def _frozen(value: Any) -> Any:
    """A read-only deep copy of JSON data (objects become mapping proxies, lists tuples)."""
    if isinstance(value, Mapping):
        return MappingProxyType({k: _frozen(v) for k, v in value.items()})
    if isinstance(value, (list, tuple)):
        return tuple(_frozen(v) for v in value)
    return value


# --- the blocks ---------------------------------------------------------------------------

@dataclass(frozen=True, kw_only=True)
class WindowContract:
    """The beat window the model was trained on.

    Attributes
    ----------
    config : the window settings (:class:`~edge.dsp.beats.WindowConfig`: rate, ms, beats, s).
    length : samples per window as trained (``before + after`` at ``config.fs_hz``).
    rr_features : names of the raw RR features, in order.
    """

    config: WindowConfig
    length: int
    rr_features: tuple[str, ...] = RR_FEATURE_NAMES

    @classmethod
    def from_dict(cls, block: Any) -> "WindowContract":
        block = _object(block, "window")
        rest = {k: v for k, v in block.items() if k not in ("length", "rr_features")}
        length = _integer(_get(block, "length", "window.length"), "window.length", minimum=1)
        rr = _strings(block.get("rr_features", list(RR_FEATURE_NAMES)), "window.rr_features")
        return cls(config=_config(WindowConfig, rest, "window"), length=length, rr_features=rr)

    def value(self, key: str) -> Any:
        """A window key as the JSON names it (``length`` included)."""
        return self.length if key == "length" else getattr(self.config, key)


@dataclass(frozen=True, kw_only=True)
class Standardization:
    """Per-feature statistics: the model sees ``(features - mean) / std``."""

    mean: tuple[float, ...]
    std: tuple[float, ...]

    def __post_init__(self) -> None:
        if len(self.mean) != len(self.std):
            raise ContractError("features.standardize", f"mean has {len(self.mean)} values, "
                                f"std {len(self.std)}: one value per feature each")
        if not all(isinstance(v, float) and math.isfinite(v) for v in self.mean):
            raise ContractError("features.standardize.mean", "must be finite numbers")
        if not all(isinstance(v, float) and math.isfinite(v) and v > 0 for v in self.std):
            raise ContractError("features.standardize.std", "must be positive and finite")

    @classmethod
    def from_dict(cls, block: Any) -> "Standardization":
        where = "features.standardize"
        block = _object(block, where)
        out = {}
        for key in ("mean", "std"):
            values = _get(block, key, f"{where}.{key}")
            if not isinstance(values, (list, tuple)):
                raise ContractError(f"{where}.{key}", f"expected a list of numbers, got "
                                    f"{type(values).__name__}")
            out[key] = tuple(float(_number(v, f"{where}.{key}")) for v in values)
        return cls(**out)


@dataclass(frozen=True, kw_only=True)
class FeaturesContract:
    """The scalar-feature input: how it is computed and standardised.

    Attributes
    ----------
    module : the module that computed the features in training (informational).
    config : the feature settings (:class:`~edge.dsp.features.FeatureConfig`).
    names : feature names in input order.
    standardize : the per-feature mean and std.
    beat_channels : what each channel of the beat input holds (informational).
    """

    module: str
    config: FeatureConfig
    names: tuple[str, ...]
    standardize: Standardization
    beat_channels: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if len(self.standardize.mean) != len(self.names):
            raise ContractError("features.standardize", f"{len(self.standardize.mean)} values "
                                f"for {len(self.names)} features: one value per feature")

    @classmethod
    def from_dict(cls, block: Any) -> "FeaturesContract":
        block = _object(block, "features")
        return cls(module=_string(block.get("module", ""), "features.module"),
                   config=_config(FeatureConfig, _get(block, "config", "features.config"),
                                  "features.config"),
                   names=_strings(_get(block, "names", "features.names"), "features.names",
                                  unique=True),
                   standardize=Standardization.from_dict(
                       _get(block, "standardize", "features.standardize")),
                   beat_channels=_strings(block.get("beat_channels", []),
                                          "features.beat_channels", non_empty=False))


@dataclass(frozen=True, kw_only=True)
class TensorSpec:
    """An input tensor as the model was trained (per beat, without the batch axis)."""

    name: str
    shape: tuple[int, ...]
    dtype: str

    @classmethod
    def from_dict(cls, block: Any, where: str) -> "TensorSpec":
        block = _object(block, where)
        return cls(name=_string(_get(block, "name", f"{where}.name"), f"{where}.name"),
                   shape=_shape(_get(block, "shape", f"{where}.shape"), f"{where}.shape"),
                   dtype=_string(block.get("dtype", "float32"), f"{where}.dtype"))


@dataclass(frozen=True, kw_only=True)
class OutputSpec:
    """The class-score output: its shape (per beat), activation and decision rule."""

    name: str
    shape: tuple[int, ...]
    activation: str = "softmax"
    decision: str = "argmax"

    @classmethod
    def from_dict(cls, block: Any) -> "OutputSpec":
        block = _object(block, "output")
        return cls(name=_string(_get(block, "name", "output.name"), "output.name"),
                   shape=_shape(_get(block, "shape", "output.shape"), "output.shape"),
                   activation=_string(block.get("activation", "softmax"), "output.activation"),
                   decision=_string(block.get("decision", "argmax"), "output.decision"))


@dataclass(frozen=True, kw_only=True)
class EmbeddingSpec:
    """A second output: the beat embedding (``python convert/quantize.py --embedding``)."""

    name: str
    size: int
    layer: str | None = None
    members: int | None = None

    @classmethod
    def from_dict(cls, block: Any) -> "EmbeddingSpec":
        block = _object(block, "embedding")
        size = _get(block, "size", "embedding.size")
        if isinstance(size, bool) or not isinstance(size, int):
            raise ContractError("embedding", f"'size' must be an integer, got {size!r}")
        members = block.get("members")
        return cls(name=_string(block.get("name", "embedding"), "embedding.name"), size=size,
                   layer=None if block.get("layer") is None else
                   _string(block["layer"], "embedding.layer"),
                   members=None if members is None else
                   _integer(members, "embedding.members", minimum=1))


@dataclass(frozen=True, kw_only=True)
class QuantizationInfo:
    """How a converted model was quantized (informational: the scales and zero points are read
    from the interpreter, never from here)."""

    scheme: str
    converted_at: str | None = None
    representative: Mapping[str, Any] = dataclasses.field(
        default_factory=lambda: MappingProxyType({}))

    @classmethod
    def from_dict(cls, block: Any) -> "QuantizationInfo":
        block = _object(block, "quantization")
        rep = block.get("representative", {})
        return cls(scheme=_string(block.get("scheme", ""), "quantization.scheme"),
                   converted_at=None if block.get("converted_at") is None else
                   _string(block["converted_at"], "quantization.converted_at"),
                   representative=_frozen(_object(rep, "quantization.representative")))


# --- the contract -------------------------------------------------------------------------

@dataclass(frozen=True, kw_only=True, eq=False)
class ModelContract:
    """A model's preprocessing contract, validated (see the module docstring for the schema).

    Build it with :meth:`from_dict` (the embedded JSON) or :meth:`from_model_bytes` (a
    ``.tflite`` file's bytes); both raise :class:`~edge.errors.ContractError` naming the key.
    """

    contract_version: int
    model_version: str
    classes: tuple[str, ...]
    lead: str
    sample_rate_hz: float
    filter: FilterConfig
    window: WindowContract
    features: FeaturesContract
    inputs: tuple[TensorSpec, ...]
    output: OutputSpec
    embedding: EmbeddingSpec | None = None
    quantization: QuantizationInfo | None = None
    model: Mapping[str, Any] = dataclasses.field(default_factory=lambda: MappingProxyType({}))
    training: Mapping[str, Any] = dataclasses.field(
        default_factory=lambda: MappingProxyType({}))
    _json: str = dataclasses.field(default="{}", repr=False)

    @classmethod
    def from_dict(cls, contract: Any) -> "ModelContract":
        """Validate the contract JSON (a dict) and build the object."""
        c = _object(contract, "contract")
        kind = c.get("kind")
        if kind is not None and "contract_version" not in c:  # another of the project's nets
            raise ContractError("kind", f"this is a {kind!r} model, not a beat classifier "
                                "(the beat model is edge/models/default.tflite or one made "
                                "by convert/quantize.py)")
        version = c.get("contract_version")
        if version != CONTRACT_VERSION or isinstance(version, bool):
            raise ContractError("contract_version", f"expected {CONTRACT_VERSION}, got "
                                f"{version!r}")
        preprocess = _object(_get(c, "preprocess", "preprocess"), "preprocess")
        inputs = _get(c, "inputs", "inputs")
        if not isinstance(inputs, (list, tuple)) or not inputs:
            raise ContractError("inputs", f"expected a non-empty list, got {inputs!r}")
        return cls(
            contract_version=version,
            model_version=str(c.get("model_version", "unknown")),
            classes=_strings(_get(c, "classes", "classes"), "classes", unique=True),
            lead=_string(c.get("lead", "MLII"), "lead"),
            sample_rate_hz=_number(_get(c, "sample_rate_hz", "sample_rate_hz"),
                                   "sample_rate_hz", positive=True),
            filter=_config(FilterConfig, _get(preprocess, "filter", "preprocess.filter"),
                           "preprocess.filter"),
            window=WindowContract.from_dict(_get(c, "window", "window")),
            features=FeaturesContract.from_dict(_get(c, "features", "features")),
            inputs=tuple(TensorSpec.from_dict(b, f"inputs[{i}]") for i, b in enumerate(inputs)),
            output=OutputSpec.from_dict(_get(c, "output", "output")),
            embedding=None if c.get("embedding") is None else
            EmbeddingSpec.from_dict(c["embedding"]),
            quantization=None if c.get("quantization") is None else
            QuantizationInfo.from_dict(c["quantization"]),
            model=_frozen(_object(c.get("model", {}), "model")),
            training=_frozen(_object(c.get("training", {}), "training")),
            _json=json.dumps(c, sort_keys=True),
        )

    @classmethod
    def from_model_bytes(cls, model_bytes: bytes) -> "ModelContract":
        """The contract embedded in a ``.tflite`` file (:class:`~edge.errors.ModelError` when it
        has none or it is not JSON, :class:`~edge.errors.ContractError` when it breaks the
        schema)."""
        return cls.from_dict(read_contract(model_bytes))

    def to_dict(self) -> dict:
        """The contract JSON as read (a fresh deep copy, every key kept)."""
        return copy.deepcopy(json.loads(self._json))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ModelContract):
            return NotImplemented
        return self._json == other._json

    def __hash__(self) -> int:
        return hash(self._json)


# --- agreement with the pipeline ----------------------------------------------------------

def _close(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return abs(float(a) - float(b)) <= 1e-9 * max(1.0, abs(float(a)))
    return a == b


def check_contract(contract: ModelContract | Mapping, *, window: WindowConfig,
                   filters: FilterConfig, fs_hz: float = PROCESSING_FS_HZ) -> ModelContract:
    """Raise :class:`~edge.errors.ContractError` (naming the key) where the model's contract
    and the pipeline's settings disagree; return the contract (built from a dict if one is
    given). A different mains notch only logs a warning: it is a site setting that leaves the
    QRS band untouched."""
    c = contract if isinstance(contract, ModelContract) else ModelContract.from_dict(contract)
    if not _close(c.sample_rate_hz, fs_hz):
        raise ContractError("sample_rate_hz", f"model expects {c.sample_rate_hz} Hz, the "
                            f"pipeline processes at {fs_hz} Hz")
    if c.classes != AAMI_CLASSES:
        raise ContractError("classes", f"expected {list(AAMI_CLASSES)}, got {list(c.classes)}")
    for key in _WINDOW_KEYS:
        mine, theirs = c.window.value(key), getattr(window, key)
        if not _close(mine, theirs):
            raise ContractError(f"window.{key}", f"model was trained with {mine!r}, the "
                                f"pipeline uses {theirs!r}")
    for key in _FILTER_KEYS:
        mine, theirs = getattr(c.filter, key), getattr(filters, key)
        if not _close(mine, theirs):
            raise ContractError(f"preprocess.filter.{key}", f"model was trained with "
                                f"{mine!r}, the pipeline uses {theirs!r}")
    if not _close(c.filter.notch_hz, filters.notch_hz):
        logger.warning("mains notch differs: model trained with %s Hz, pipeline uses %s Hz",
                       c.filter.notch_hz, filters.notch_hz)
    if c.features.names != FEATURE_NAMES:
        raise ContractError("features.names", "the model's features differ from this version "
                            "of edge.dsp.features (upgrade ecg-edge or re-convert)")
    return c
