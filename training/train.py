"""Train a beat classifier on DS1, validated on held-out DS1 patients (never DS2).

``python -m training.train --model cnn|lstm --out DIR`` writes ``DIR/beat_<kind>.keras``, its
contract ``DIR/beat_<kind>.contract.json`` (see :mod:`training.contract`), ``DIR/history.json``
and the members' own files under ``DIR/member<k>/``.

Protocol (default: :func:`train_ensemble`)
-----------------------------------------
* DS1 is cut into three patient folds (:data:`training.data.FOLDS`, each with SVEB- and
  VEB-rich patients). Member *k* trains on the other two folds -- clean records plus
  ``n_augment`` noisy copies -- and is early-stopped on the clean records of fold *k*. The
  shipped model averages the members' softmax outputs (one Keras model, one TFLite file).
  The members' scores on their own held-out folds give a DS1 cross-validation estimate.
* ``--svdb`` adds the SVDB records (:data:`training.data.SVDB_FOLDS`, 128 Hz, through the
  device's resampler) to training: member *k* also leaves out SVDB fold *k* and is scored on
  it after training (never early-stopped on it), so the members' held-out SVDB predictions
  are a record-wise SVDB cross-validation of the recipe (``svdb_crossval_members`` in the
  contract). DS2 is refused in every record list.
* ``--device-rates 128 250 500`` / ``--other-lead-period N``: augmented copies recorded at
  other rates / from the other lead (:class:`training.dataset.AugmentConfig`); ``--width``
  scales every layer (the size curve).
* ``--single`` (or explicit ``--records`` / ``--val-records``) trains one network instead,
  validated on ``--val-records`` (default: 106, 118, 124, 201, 220).
* Each epoch uses every non-N training beat and a fresh random draw of ``normal_per_epoch``
  N beats; the loss is weighted per class by ``(n_N / n_c) ** class_weight_power`` (capped at
  ``max_class_weight``) times ``class_weight_scale[c]`` (F and Q are down-weighted: they do
  not generalise across patients in DS1 cross-validation and only add false positives).
* Model selection: after each epoch the validation records are scored with
  :func:`edge.eval.scoring.class_metrics`; the kept weights are those of the epoch with the best
  ``0.4 F1(S) + 0.4 F1(V) + 0.2 accuracy``, from epoch ``min_epochs`` on (``--min-epochs``:
  a held-out fold with few S beats can make an undertrained first epoch look best); training
  stops after ``patience`` epochs without improvement (the learning rate halves after
  ``patience // 2``).
"""
from __future__ import annotations

import argparse
import json
import logging
import math
import os
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from edge.aami import AAMI_CLASSES
from edge.cli.common import positive_float, positive_int
from edge.errors import ConfigError
from edge.eval.scoring import class_metrics, confusion_matrix
from training.data import DS1, DS2, FOLDS, SVDB_FOLDS, is_ds2
from training.dataset import AugmentConfig, BeatSet, DatasetConfig, build_dataset
from training.tool import output_dir, run_guarded

__all__ = ["TrainConfig", "TrainResult", "train", "train_ensemble", "selection_score", "main",
           "DEFAULT_VAL_RECORDS"]

logger = logging.getLogger(__name__)

DEFAULT_VAL_RECORDS = ("106", "118", "124", "201", "220")
MODEL_VERSION = "1.2.0"


@dataclass(frozen=True, kw_only=True)
class TrainConfig:
    """Training settings (see module docstring for the protocol)."""

    kind: str = "cnn"
    train_records: tuple[str, ...] = tuple(r for r in DS1 if r not in DEFAULT_VAL_RECORDS)
    val_records: tuple[str, ...] = DEFAULT_VAL_RECORDS
    n_augment: int = 2
    max_epochs: int = 40
    patience: int = 8
    batch_size: int = 256
    learning_rate: float = 2e-3
    normal_per_epoch: int = 30000
    class_weight_power: float = 0.6
    max_class_weight: float = 20.0
    class_weight_scale: tuple[float, ...] = (1.0, 1.0, 1.0, 0.3, 0.3)
    seed: int = 7
    max_minutes: float = 15.0
    threads: int = 2
    extra_folds: tuple[tuple[str, ...], ...] = ()
    device_rates_hz: tuple[float, ...] = ()
    other_lead_period: int = 0
    invert_probability: float = 0.0
    width: float = 1.0
    min_epochs: int = 1

    def __post_init__(self) -> None:
        extra = [r for f in self.extra_folds for r in f]
        for field_name, records in (("train_records", self.train_records),
                                    ("val_records", self.val_records), ("extra_folds", extra)):
            ds2 = [r for r in records if is_ds2(r)]
            if ds2:
                raise ConfigError(field_name, f"DS2 records must never be used in training or "
                                              f"model selection: {', '.join(map(str, ds2))}")
        if len(set(extra)) != len(extra):
            raise ConfigError("extra_folds", "a record may sit in one fold only")
        if not 0.1 <= self.width <= 4:
            raise ConfigError("width", f"must be within 0.1 .. 4, got {self.width}")
        self.dataset_config()  # validates the augmentation settings
        if set(self.train_records) & set(self.val_records):
            raise ConfigError("val_records", "must be disjoint from train_records")
        if not self.train_records:
            raise ConfigError("train_records", "must not be empty")
        for name in ("max_epochs", "patience", "batch_size", "normal_per_epoch"):
            if getattr(self, name) < 1:
                raise ConfigError(name, f"must be >= 1, got {getattr(self, name)}")
        if not 1 <= self.min_epochs <= self.max_epochs:
            raise ConfigError("min_epochs", "must be within 1 .. max_epochs")
        if not (math.isfinite(self.learning_rate) and self.learning_rate > 0):
            raise ConfigError("learning_rate", f"must be a finite number > 0, got "
                                               f"{self.learning_rate}")
        if len(self.class_weight_scale) != len(AAMI_CLASSES) or not all(
                math.isfinite(v) and v > 0 for v in self.class_weight_scale):
            raise ConfigError("class_weight_scale", "needs one finite factor > 0 per AAMI class")
        if not (math.isfinite(self.class_weight_power) and self.class_weight_power >= 0
                and math.isfinite(self.max_class_weight) and self.max_class_weight >= 1):
            raise ConfigError("class_weight_power", "need a finite power >= 0 and a finite max "
                                                    "weight >= 1")
        if not (math.isfinite(self.max_minutes) and self.max_minutes > 0):
            raise ConfigError("max_minutes", f"must be a finite number of minutes > 0, got "
                                             f"{self.max_minutes}")

    def dataset_config(self) -> DatasetConfig:
        """The beat-example settings of this training (augmentation included)."""
        return DatasetConfig(n_augment=self.n_augment, augment=AugmentConfig(
            device_rates_hz=tuple(self.device_rates_hz),
            other_lead_period=self.other_lead_period,
            invert_probability=self.invert_probability))


@dataclass
class TrainResult:
    keras_path: Path
    contract: dict
    history: list[dict] = field(default_factory=list)
    seconds: float = 0.0


def selection_score(metrics: dict) -> float:
    """``0.4 F1(S) + 0.4 F1(V) + 0.2 accuracy`` (NaN F1 counts as 0)."""
    pc = metrics["per_class"]
    f = [0.0 if not np.isfinite(pc[c]["f1"]) else pc[c]["f1"] for c in ("S", "V")]
    return 0.4 * f[0] + 0.4 * f[1] + 0.2 * metrics["accuracy"]


def _setup_threads(n: int) -> None:
    os.environ.setdefault("OMP_NUM_THREADS", str(n))
    os.environ.setdefault("TF_NUM_INTEROP_THREADS", "1")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf
    try:
        tf.config.threading.set_intra_op_parallelism_threads(n)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    except RuntimeError:  # already initialised in this process
        pass


def _class_weights(labels: np.ndarray, power: float, cap: float,
                   scale=(1.0,) * len(AAMI_CLASSES)) -> dict[int, float]:
    counts = np.bincount(labels, minlength=len(AAMI_CLASSES)).astype(float)
    ref = counts[0] if counts[0] > 0 else counts.max()
    return {i: float(scale[i] * min(cap, (ref / c) ** power)) if c > 0 else 1.0
            for i, c in enumerate(counts)}


def _predict(model, data: BeatSet, mean, std, batch_size: int = 1024) -> np.ndarray:
    x = {"beat": data.beat, "features": (data.features - mean) / std}
    return model.predict(x, batch_size=batch_size, verbose=0)


def train(config: TrainConfig, out_dir: str | os.PathLike, *,
          data_config: DatasetConfig | None = None, model_config=None,
          progress: bool = True, data_dir: str | os.PathLike | None = None,
          feature_stats: tuple[np.ndarray, np.ndarray] | None = None) -> TrainResult:
    """Train one model and write it with its contract and history into ``out_dir``.

    ``feature_stats`` (mean, std) fixes the feature standardisation (ensemble members share
    one); by default it is computed on the training beats.
    """
    _setup_threads(config.threads)
    import keras

    from training.contract import contract_path, make_contract, save_contract
    from training.models import ModelConfig, build_model

    t0 = time.monotonic()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    dcfg = data_config or config.dataset_config()
    logger.info("building beats: %d training records (+%d noisy copies), %d validation records",
                len(config.train_records), dcfg.n_augment, len(config.val_records))
    tr = build_dataset(config.train_records, dcfg, augment=True, progress=progress,
                       data_dir=data_dir)
    va = build_dataset(config.val_records, dcfg, augment=False, progress=progress,
                       data_dir=data_dir) if config.val_records else None
    logger.info("training beats %s; validation beats %s", tr.class_counts(),
                va.class_counts() if va is not None else {})
    if feature_stats is None:
        mean = tr.features.mean(axis=0)
        std = np.maximum(tr.features.std(axis=0), 1e-3)
    else:
        mean, std = (np.asarray(v, np.float32) for v in feature_stats)

    mcfg = model_config or ModelConfig(kind=config.kind, window_length=dcfg.window.length,
                                       n_features=tr.features.shape[1]).scaled(config.width)
    model = build_model(mcfg, seed=config.seed)
    opt = keras.optimizers.Adam(learning_rate=config.learning_rate)
    model.compile(optimizer=opt, loss="sparse_categorical_crossentropy")
    n_params = model.count_params()
    logger.info("%s model: %d parameters", mcfg.kind, n_params)

    rng = np.random.default_rng(config.seed)
    normal = np.flatnonzero(tr.label == 0)
    other = np.flatnonzero(tr.label != 0)
    feats_std = ((tr.features - mean) / std).astype(np.float32)
    history: list[dict] = []
    best_score, best_epoch, best_weights, since_best = -np.inf, -1, None, 0
    lr = config.learning_rate
    for epoch in range(config.max_epochs):
        take = rng.choice(normal, size=min(config.normal_per_epoch, normal.size), replace=False)
        idx = rng.permutation(np.concatenate([take, other]))
        y = tr.label[idx]
        cw = _class_weights(y, config.class_weight_power, config.max_class_weight,
                            config.class_weight_scale)
        sw = np.array([cw[int(c)] for c in range(len(AAMI_CLASSES))], np.float32)[y]
        if progress:
            print(f"epoch {epoch + 1}/{config.max_epochs}", file=sys.stderr)
        h = model.fit({"beat": tr.beat[idx], "features": feats_std[idx]}, y, sample_weight=sw,
                      batch_size=config.batch_size, epochs=1, shuffle=False,
                      verbose=1 if progress else 0)
        rec = {"epoch": epoch + 1, "loss": float(h.history["loss"][0]), "lr": lr,
               "class_weights": cw, "seconds": time.monotonic() - t0}
        if va is not None and len(va):
            prob = _predict(model, va, mean, std)
            pred = [AAMI_CLASSES[i] for i in prob.argmax(1)]
            true = [AAMI_CLASSES[i] for i in va.label]
            m = class_metrics(confusion_matrix(true, pred))
            score = selection_score(m)
            rec.update(val_score=score, val_accuracy=m["accuracy"],
                       val_f1={c: m["per_class"][c]["f1"] for c in AAMI_CLASSES},
                       val_se={c: m["per_class"][c]["se"] for c in AAMI_CLASSES},
                       val_ppv={c: m["per_class"][c]["ppv"] for c in AAMI_CLASSES})
        else:
            score = -rec["loss"]
        history.append(rec)
        logger.info("epoch %d loss %.4f val score %.4f (S F1 %.3f, V F1 %.3f, acc %.4f)",
                    epoch + 1, rec["loss"], score, rec.get("val_f1", {}).get("S", np.nan),
                    rec.get("val_f1", {}).get("V", np.nan), rec.get("val_accuracy", np.nan))
        if epoch + 1 < config.min_epochs:  # warm-up: no checkpoint, no patience count
            pass
        elif score > best_score:
            best_score, best_epoch, best_weights, since_best = score, epoch + 1, \
                model.get_weights(), 0
        else:
            since_best += 1
            if since_best == max(1, config.patience // 2):
                lr *= 0.5
                opt.learning_rate.assign(lr)
                logger.info("learning rate -> %.2e", lr)
        if since_best >= config.patience:
            logger.info("early stop after epoch %d (best %d)", epoch + 1, best_epoch)
            break
        if (time.monotonic() - t0) / 60 > config.max_minutes:
            logger.warning("time budget of %.1f min reached after epoch %d",
                           config.max_minutes, epoch + 1)
            break
    if best_weights is None:  # the budget ended the run inside the warm-up: keep the last
        logger.warning("the time budget ended training at epoch %d, before --min-epochs %d: "
                       "the last epoch's weights are kept (no checkpoint was chosen)",
                       len(history), config.min_epochs)
        best_epoch, best_score = len(history), score
    else:
        model.set_weights(best_weights)
    seconds = time.monotonic() - t0
    keras_path = out / f"beat_{mcfg.kind}.keras"
    model.save(keras_path)
    best = history[best_epoch - 1]
    training = {
        "records": list(config.train_records),
        "validation_records": list(config.val_records),
        "test_records": list(DS2),
        "split": "de Chazal 2004 inter-patient DS1/DS2; paced records excluded",
        "selection": "epoch with best 0.4*F1(S) + 0.4*F1(V) + 0.2*accuracy on the held-out "
                     "DS1 validation records (DS2 never used)",
        "best_epoch": best_epoch, "epochs_run": len(history),
        "ended_in_warm_up": best_weights is None,  # the time budget came first: last epoch
        "best_validation": {k: best.get(k) for k in ("val_score", "val_accuracy", "val_f1",
                                                      "val_se", "val_ppv")},
        "train_config": {k: (list(v) if isinstance(v, tuple) else v)
                         for k, v in asdict(config).items()},
        "dataset": dcfg.to_dict(),
        "train_beats": tr.class_counts(),
        "seconds": seconds,
    }
    contract = make_contract(model_config=mcfg, data_config=dcfg, n_params=n_params,
                             keras_file=keras_path.name, feature_mean=mean, feature_std=std,
                             training=training, model_version=f"{mcfg.kind}-{MODEL_VERSION}")
    save_contract(contract, contract_path(keras_path))
    (out / "history.json").write_text(json.dumps(history, indent=1) + "\n")
    logger.info("saved %s (%.1f min, best epoch %d, val score %.4f)", keras_path,
                seconds / 60, best_epoch, best_score)
    return TrainResult(keras_path, contract, history, seconds)


def train_ensemble(config: TrainConfig, out_dir: str | os.PathLike, *, folds=None,
                   progress: bool = True, data_dir: str | os.PathLike | None = None,
                   only: int | None = None) -> TrainResult:
    """Train one member per DS1 patient fold and save their average as one model.

    Member *k* trains on DS1 minus fold *k* (with ``n_augment`` noisy copies) and is
    early-stopped on the clean records of fold *k*; all members share one feature
    standardisation (computed on all training beats). Each member's score on its own
    held-out fold is pooled into a DS1 cross-validation estimate stored in the contract.
    With ``config.extra_folds`` (one per DS1 fold, e.g. :data:`training.data.SVDB_FOLDS`)
    member *k* also trains on the other extra folds and is scored, after training, on the
    clean records of extra fold *k* (``svdb_crossval_members``: patients it never saw and was
    not selected on). ``config.train_records`` / ``val_records`` are ignored. ``only=k``
    trains member *k* alone (a one-member model; its CV figures are fold *k*'s).
    """
    from dataclasses import replace

    from training.contract import (
        contract_path,
        load_model,
        make_contract,
        save_contract,
    )
    from training.models import ModelConfig, build_model

    folds = folds or FOLDS
    t0 = time.monotonic()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    dcfg = config.dataset_config()
    records = tuple(r for f in folds for r in f)
    extra = tuple(config.extra_folds)
    if extra and len(extra) != len(folds):
        raise ConfigError("extra_folds", f"need one extra fold per DS1 fold ({len(folds)}), "
                                         f"got {len(extra)}")
    extra_records = tuple(r for f in extra for r in f)
    ds2 = [r for r in records + extra_records if is_ds2(r)]
    if ds2:
        raise ConfigError("folds", f"DS2 records must never be used in training: "
                                   f"{', '.join(map(str, ds2))}")
    pool = build_dataset(records + extra_records, dcfg, augment=True, progress=progress,
                         data_dir=data_dir)
    mean = pool.features.mean(axis=0)
    std = np.maximum(pool.features.std(axis=0), 1e-3)
    del pool
    members, member_folds, true, pred = [], [], [], []
    x_true, x_pred, x_members = [], [], []
    for k, fold in enumerate(folds):
        if only is not None and k != only:
            continue
        held = extra[k] if extra else ()
        cfg = replace(config, train_records=tuple(r for r in records + extra_records
                                                  if r not in fold and r not in held),
                      val_records=tuple(fold), seed=config.seed + k, extra_folds=())
        logger.info("ensemble member %d/%d: validation fold %s%s", k + 1, len(folds), fold,
                    f", held-out extra fold {held}" if held else "")
        res = train(cfg, out / f"member{k}", data_config=dcfg, progress=progress,
                    data_dir=data_dir, feature_stats=(mean, std))
        model, contract = load_model(res.keras_path)
        va = build_dataset(fold, dcfg, augment=False, progress=False, data_dir=data_dir)
        p = _predict(model, va, mean, std).argmax(1)
        true += [AAMI_CLASSES[i] for i in va.label]
        pred += [AAMI_CLASSES[i] for i in p]
        if held:
            xa = build_dataset(held, dcfg, augment=False, progress=False, data_dir=data_dir)
            xp = _predict(model, xa, mean, std).argmax(1)
            xt = [AAMI_CLASSES[i] for i in xa.label]
            xq = [AAMI_CLASSES[i] for i in xp]
            x_true += xt
            x_pred += xq
            m = class_metrics(confusion_matrix(xt, xq))
            x_members.append({"records": list(held), "f1": {c: m["per_class"][c]["f1"]
                                                            for c in ("S", "V")}})
        members.append((model, res))
        member_folds.append(fold)
    cv = class_metrics(confusion_matrix(true, pred))
    cv["confusion"] = confusion_matrix(true, pred).tolist()
    cv["score"] = selection_score(cv)
    xcv = None
    if x_true:
        xcv = class_metrics(confusion_matrix(x_true, x_pred))
        xcv["confusion"] = confusion_matrix(x_true, x_pred).tolist()
        xcv["members"] = x_members
    single = ModelConfig.from_dict(members[0][1].contract["model"]["config"])
    mcfg = replace(single, ensemble=len(members))
    merged = build_model(mcfg)
    merged.set_weights([w for m, _ in members for w in m.get_weights()])
    seconds = time.monotonic() - t0
    keras_path = out / f"beat_{mcfg.kind}.keras"
    merged.save(keras_path)
    training = {
        "records": list(records + extra_records), "validation_records": list(records),
        "test_records": list(DS2),
        "split": "de Chazal 2004 inter-patient DS1/DS2; paced records excluded"
                 + ("; SVDB patient folds joined to training (record-wise CV)" if extra
                    else ""),
        "selection": f"ensemble of {len(members)} members; member k trained on DS1 minus patient "
                     "fold k and early-stopped at its best 0.4*F1(S) + 0.4*F1(V) + "
                     "0.2*accuracy on fold k (DS2 never used)",
        "folds": [list(f) for f in folds],
        "extra_folds": [list(f) for f in extra],
        "members": [{"fold": list(f), "best_epoch": r.contract["training"]["best_epoch"],
                     "epochs_run": r.contract["training"]["epochs_run"],
                     "best_validation": r.contract["training"]["best_validation"]}
                    for f, (_, r) in zip(member_folds, members)],
        "best_epoch": [r.contract["training"]["best_epoch"] for _, r in members],
        "epochs_run": sum(r.contract["training"]["epochs_run"] for _, r in members),
        "ds1_crossval_members": cv,
        "svdb_crossval_members": xcv,
        "train_config": {k: (list(v) if isinstance(v, tuple) else v)
                         for k, v in asdict(config).items()
                         if k not in ("train_records", "val_records")},
        "dataset": dcfg.to_dict(),
        "seconds": seconds,
    }
    contract = make_contract(model_config=mcfg, data_config=dcfg,
                             n_params=merged.count_params(), keras_file=keras_path.name,
                             feature_mean=mean, feature_std=std, training=training,
                             model_version=f"{mcfg.kind}x{len(members)}-{MODEL_VERSION}"
                             + (f"-w{config.width:g}" if config.width != 1 else "")
                             + (f"-fold{only}" if only is not None else ""))
    save_contract(contract, contract_path(keras_path))
    (out / "history.json").write_text(json.dumps(
        {f"member{k}": r.history for k, (_, r) in enumerate(members)}, indent=1) + "\n")
    pc = cv["per_class"]
    logger.info("saved %s (%.1f min); DS1 CV of members: acc %.4f, S F1 %.3f, V F1 %.3f",
                keras_path, seconds / 60, cv["accuracy"], pc["S"]["f1"], pc["V"]["f1"])
    if xcv is not None:
        xc = xcv["per_class"]
        logger.info("held-out extra folds (reference beats): S Se %.3f +P %.3f F1 %.3f, "
                    "V Se %.3f +P %.3f F1 %.3f", xc["S"]["se"], xc["S"]["ppv"], xc["S"]["f1"],
                    xc["V"]["se"], xc["V"]["ppv"], xc["V"]["f1"])
    return TrainResult(keras_path, contract, [], seconds)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m training.train", description=__doc__.split("\n")[0])
    p.add_argument("--model", choices=("cnn", "lstm"), default="cnn")
    p.add_argument("--out", required=True, type=output_dir,
                   help="output directory (checked writable before any training)")
    p.add_argument("--records", nargs="+", help="training records (default: DS1 minus val)")
    p.add_argument("--val-records", nargs="+", help="held-out DS1 validation records")
    p.add_argument("--epochs", type=positive_int, default=TrainConfig.max_epochs)
    p.add_argument("--patience", type=positive_int, default=TrainConfig.patience)
    p.add_argument("--n-augment", type=int, default=TrainConfig.n_augment)
    p.add_argument("--normal-per-epoch", type=positive_int,
                   default=TrainConfig.normal_per_epoch)
    p.add_argument("--class-weight-power", type=float, default=TrainConfig.class_weight_power)
    p.add_argument("--class-weight-scale", type=float, nargs=5,
                   default=TrainConfig.class_weight_scale, metavar=("N", "S", "V", "F", "Q"),
                   help="per-class factors on the class weights")
    p.add_argument("--lr", type=positive_float, default=TrainConfig.learning_rate)
    p.add_argument("--seed", type=int, default=TrainConfig.seed)
    p.add_argument("--max-minutes", type=float, default=TrainConfig.max_minutes)
    p.add_argument("--single", action="store_true",
                   help="one network early-stopped on --val-records instead of the default "
                        "ensemble of three DS1 patient folds (training.data.FOLDS)")
    p.add_argument("--svdb", action="store_true",
                   help="join the SVDB records ($SVDB_DIR, training.data.SVDB_FOLDS) to the "
                        "ensemble's folds; members are scored on their held-out SVDB fold")
    p.add_argument("--device-rates", type=float, nargs="+", default=(), metavar="HZ",
                   help="augmented copies recorded at these rates (e.g. 128 250 500)")
    p.add_argument("--other-lead-period", type=int, default=0, metavar="N",
                   help="every N-th augmented copy from the record's other lead (0: never)")
    p.add_argument("--invert-probability", type=float, default=0.0, metavar="P",
                   help="chance that an augmented copy is inverted (electrodes the other way "
                        "round; default 0)")
    p.add_argument("--width", type=float, default=TrainConfig.width,
                   help="layer width multiplier (size curve)")
    p.add_argument("--min-epochs", type=int, default=TrainConfig.min_epochs,
                   help="first epoch eligible as the kept checkpoint (default 1)")
    p.add_argument("--fold", type=int, choices=range(len(FOLDS)), default=None, metavar="K",
                   help="train only ensemble member K (its DS1 fold, and its SVDB fold with "
                        "--svdb, held out): a one-member model, e.g. for the size curve")
    p.add_argument("--data-dir", help="MIT-BIH directory (default: $MITDB_DIR)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    a = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    val = tuple(a.val_records) if a.val_records is not None else DEFAULT_VAL_RECORDS
    recs = tuple(a.records) if a.records else tuple(r for r in DS1 if r not in val)
    if a.svdb and (a.single or a.records or a.val_records is not None):
        p.error("--svdb works with the fold ensemble only (not --single/--records)")
    if a.fold is not None and (a.single or a.records or a.val_records is not None):
        p.error("--fold trains one member of the fold ensemble: not with "
                "--single/--records/--val-records")
    try:
        cfg = TrainConfig(kind=a.model, train_records=recs, val_records=val,
                          n_augment=a.n_augment, max_epochs=a.epochs, patience=a.patience,
                          normal_per_epoch=a.normal_per_epoch,
                          class_weight_power=a.class_weight_power,
                          class_weight_scale=tuple(a.class_weight_scale), learning_rate=a.lr,
                          seed=a.seed, max_minutes=a.max_minutes,
                          extra_folds=SVDB_FOLDS if a.svdb else (),
                          device_rates_hz=tuple(a.device_rates),
                          other_lead_period=a.other_lead_period,
                          invert_probability=a.invert_probability, width=a.width,
                          min_epochs=a.min_epochs)
    except ConfigError as exc:
        p.error(str(exc))

    def job() -> int:
        if a.single or a.records or a.val_records is not None:
            train(cfg, a.out, progress=not a.quiet, data_dir=a.data_dir)
        elif a.fold is not None:
            train_ensemble(cfg, a.out, progress=not a.quiet, data_dir=a.data_dir,
                           only=a.fold)
        else:
            train_ensemble(cfg, a.out, progress=not a.quiet, data_dir=a.data_dir)
        return 0

    return run_guarded("python -m training.train", job,
                       interrupted="interrupted; nothing saved for the unfinished model")


if __name__ == "__main__":
    sys.exit(main())
