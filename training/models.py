"""Compact Keras beat classifiers: a 1-D CNN and a CNN front end + LSTM.

Both take two inputs -- ``beat`` (window samples x 2 channels: the normalised beat and its
difference from the patient's running template) and ``features`` (standardised RR ratios and
template similarity, see :mod:`edge.dsp.features`) -- and output the softmax over the five AAMI
classes in :data:`edge.eval.scoring.AAMI_CLASSES` order.

Both convert to full-int8 TFLite (int8 input and output tensors) with the TF 2.21 converter:
the CNN uses only Conv1D/BatchNorm/ReLU/Dense, and the LSTM is built with ``unroll=True`` over
a short sequence (8 steps) so the converter sees plain ops; for conversion, rebuild the model
with :func:`build_model` (``batch_size=1``) and copy the weights (:func:`fixed_batch_copy`).
"""
from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, replace

from edge.errors import ConfigError

__all__ = ["ModelConfig", "build_model", "fixed_batch_copy", "MODEL_KINDS", "conv_trunk"]

logger = logging.getLogger(__name__)

MODEL_KINDS = ("cnn", "lstm")


@dataclass(frozen=True, kw_only=True)
class ModelConfig:
    """Architecture settings.

    Attributes
    ----------
    kind : ``"cnn"`` or ``"lstm"``.
    window_length : samples per beat window (``WindowConfig.length``).
    n_channels : channels of the ``beat`` input.
    n_features : width of the ``features`` input.
    n_classes : output classes.
    filters : filters of the strided Conv1D blocks (each halves the time axis).
    kernel_sizes : kernel of each block (same length as ``filters``).
    dense_units : units of the morphology embedding (CNN) or LSTM units (LSTM).
    head_units : units of the dense layer after concatenating the RR features.
    dropout : dropout rate before the output layer.
    ensemble : number of identical sub-networks whose softmax outputs are averaged (trained
        separately, on different DS1 patient folds; see :func:`training.train.train_ensemble`).
    """

    kind: str = "cnn"
    window_length: int = 252
    n_channels: int = 2
    n_features: int = 14
    n_classes: int = 5
    filters: tuple[int, ...] = (8, 12, 16, 16)
    kernel_sizes: tuple[int, ...] = (7, 5, 5, 3)
    dense_units: int = 12
    head_units: int = 24
    dropout: float = 0.2
    ensemble: int = 1

    def __post_init__(self) -> None:
        if self.kind not in MODEL_KINDS:
            raise ConfigError("kind", f"must be one of {MODEL_KINDS}, got {self.kind!r}")
        if len(self.filters) != len(self.kernel_sizes) or not self.filters:
            raise ConfigError("kernel_sizes", "needs one kernel size per filter block (>= 1)")
        if min(self.filters + self.kernel_sizes) < 1 or self.window_length < 8:
            raise ConfigError("filters", "filters and kernel sizes must be >= 1")
        if not 0 <= self.dropout < 1:
            raise ConfigError("dropout", "must be in [0, 1)")
        if self.ensemble < 1:
            raise ConfigError("ensemble", "must be >= 1")

    def scaled(self, width: float) -> "ModelConfig":
        """Every layer's width times ``width`` (at least 2 units each): the size curve."""
        if width == 1:
            return self
        if not width > 0:
            raise ConfigError("width", f"must be positive, got {width}")

        def w(n: int) -> int:
            return max(2, int(round(n * width)))

        return replace(self, filters=tuple(w(f) for f in self.filters),
                       dense_units=w(self.dense_units), head_units=w(self.head_units))

    def to_dict(self) -> dict:
        d = asdict(self)
        d["filters"] = list(self.filters)
        d["kernel_sizes"] = list(self.kernel_sizes)
        return d

    @staticmethod
    def from_dict(d: dict) -> "ModelConfig":
        d = dict(d)
        d["filters"] = tuple(d["filters"])
        d["kernel_sizes"] = tuple(d["kernel_sizes"])
        return ModelConfig(**d)


def build_model(config: ModelConfig, *, batch_size: int | None = None, seed: int = 0):
    """Build (uncompiled) the Keras model described by ``config``.

    Parameters
    ----------
    config : architecture; with ``ensemble > 1`` the model averages that many sub-networks
        (``ecg_<kind>_0`` ...), whose weights are usually set from separately trained members.
    batch_size : fixed batch size (1 for TFLite conversion) or None.
    seed : seed of the weight initialisers and dropout.
    """
    import keras
    from keras import layers

    keras.utils.set_random_seed(seed)
    beat = keras.Input((config.window_length, config.n_channels), batch_size=batch_size,
                       name="beat")
    feats = keras.Input((config.n_features,), batch_size=batch_size, name="features")
    if config.ensemble == 1:
        return _single(config, beat, feats, seed, f"ecg_{config.kind}")
    members = [_single(config, beat, feats, seed + i, f"ecg_{config.kind}_{i}")
               for i in range(config.ensemble)]
    out = layers.Average(name="probabilities")([m([beat, feats]) for m in members])
    return keras.Model([beat, feats], out, name=f"ecg_{config.kind}_x{config.ensemble}")


def _single(config: ModelConfig, beat, feats, seed: int, name: str):
    import keras
    from keras import layers

    x = beat
    for i, (f, k) in enumerate(zip(config.filters, config.kernel_sizes)):
        x = layers.Conv1D(f, k, strides=2, padding="same", use_bias=False, name=f"conv{i}")(x)
        x = layers.BatchNormalization(name=f"bn{i}")(x)
        x = layers.ReLU(name=f"relu{i}")(x)
    if config.kind == "cnn":
        x = layers.Flatten(name="flatten")(x)
        x = layers.Dense(config.dense_units, activation="relu", name="embed")(x)
    else:
        # One more pooling step keeps the unrolled sequence short (length / 2**(blocks+1)).
        x = layers.MaxPooling1D(2, name="pool")(x)
        x = layers.LSTM(config.dense_units, unroll=True, name="lstm")(x)
    h = layers.Concatenate(name="concat")([x, feats])
    h = layers.Dense(config.head_units, activation="relu", name="head")(h)
    h = layers.Dropout(config.dropout, seed=seed, name="dropout")(h)
    out = layers.Dense(config.n_classes, activation="softmax", name="probabilities")(h)
    return keras.Model([beat, feats], out, name=name)


def fixed_batch_copy(model, config: ModelConfig, batch_size: int = 1):
    """A copy of ``model`` with a fixed batch dimension (for full-int8 TFLite conversion)."""
    m = build_model(config, batch_size=batch_size)
    m.set_weights(model.get_weights())
    return m


def conv_trunk(x, arch, pools):  # noqa: ANN001, ANN201
    """The body of the rhythm networks (:mod:`training.strip_net`, :mod:`training.vf_net`):
    per ``(filters, kernel)`` of ``arch`` a Conv1D (same padding, no bias), BatchNorm and ReLU,
    then max-pooling by ``pools[i]`` (1: none); global average and max pooling side by side,
    Dense(32) ReLU and dropout 0.3. Returns the tensor the output layer reads."""
    from keras import layers  # noqa: PLC0415

    for (f, k), pool in zip(arch, pools, strict=True):
        x = layers.Conv1D(f, k, padding="same", use_bias=False)(x)
        x = layers.BatchNormalization()(x)
        x = layers.ReLU()(x)
        if pool > 1:
            x = layers.MaxPooling1D(pool)(x)
    x = layers.Concatenate()([layers.GlobalAveragePooling1D()(x), layers.GlobalMaxPooling1D()(x)])
    x = layers.Dense(32, activation="relu")(x)
    return layers.Dropout(0.3)(x)
