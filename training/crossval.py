"""Record-wise 3-fold cross-validation on DS1, for design decisions (features, weights).

``python -m training.crossval --out DIR [--model cnn] [--class-weight-power 0.6 ...]``

Each fold holds out whole DS1 patients (never single beats); the held-out fold also serves as
that fold's early-stopping set, so the pooled figures are optimistic in absolute terms but
comparable between variants. DS2 is never touched.
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
from dataclasses import replace
from pathlib import Path

from edge.aami import AAMI_CLASSES
from edge.errors import ConfigError
from edge.eval.scoring import class_metrics, confusion_matrix
from training.data import DS1, FOLDS
from training.tool import output_dir, run_guarded

__all__ = ["FOLDS", "cross_validate", "main"]

logger = logging.getLogger(__name__)


def cross_validate(config, out_dir: str | Path, *, data_dir=None, progress=False) -> dict:
    """Train one model per fold with ``config`` (a :class:`training.train.TrainConfig`) and
    return pooled metrics of the held-out folds."""
    from training.contract import load_model, model_inputs
    from training.dataset import DatasetConfig, build_dataset
    from training.train import selection_score, train

    true, pred, folds = [], [], []
    for i, fold in enumerate(FOLDS):
        cfg = replace(config, train_records=tuple(r for r in DS1 if r not in fold),
                      val_records=fold)
        res = train(cfg, Path(out_dir) / f"fold{i}", progress=progress, data_dir=data_dir)
        model, contract = load_model(res.keras_path)
        d = build_dataset(fold, DatasetConfig(n_augment=cfg.n_augment), progress=False,
                          data_dir=data_dir)
        p = model.predict(model_inputs(d.beat, d.features, contract), batch_size=2048,
                          verbose=0).argmax(1)
        true += [AAMI_CLASSES[j] for j in d.label]
        pred += [AAMI_CLASSES[j] for j in p]
        folds.append({"records": list(fold), "best_epoch": res.contract["training"]["best_epoch"]})
    m = class_metrics(confusion_matrix(true, pred))
    m["confusion"] = confusion_matrix(true, pred).tolist()
    m["score"] = selection_score(m)
    m["folds"] = folds
    return m


def main(argv: list[str] | None = None) -> int:
    from training.train import TrainConfig

    p = argparse.ArgumentParser(prog="python -m training.crossval",
                                description=__doc__.split("\n")[0])
    p.add_argument("--model", choices=("cnn", "lstm"), default="cnn")
    p.add_argument("--out", required=True, type=output_dir)
    p.add_argument("--class-weight-power", type=float, default=TrainConfig.class_weight_power)
    p.add_argument("--class-weight-scale", type=float, nargs=5,
                   default=TrainConfig.class_weight_scale)
    p.add_argument("--data-dir")
    a = p.parse_args(argv)
    try:
        cfg = TrainConfig(kind=a.model, class_weight_power=a.class_weight_power,
                          class_weight_scale=tuple(a.class_weight_scale))
    except ConfigError as exc:
        p.error(f"--{exc.field.replace('_', '-')}: {exc.rule}")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    def job() -> int:
        m = cross_validate(cfg, a.out, data_dir=a.data_dir)
        Path(a.out, "crossval.json").write_text(json.dumps(m, indent=1, default=float) + "\n")
        pc = m["per_class"]
        print(f"pooled DS1 CV: acc {m['accuracy']:.4f}  S Se {pc['S']['se']:.3f} +P "
              f"{pc['S']['ppv']:.3f} F1 {pc['S']['f1']:.3f}  V Se {pc['V']['se']:.3f} +P "
              f"{pc['V']['ppv']:.3f} F1 {pc['V']['f1']:.3f}  score {m['score']:.4f}")
        return 0

    return run_guarded(p.prog, job, interrupted=f"interrupted; finished folds stay in "
                                                f"{a.out}, crossval.json is not written")

if __name__ == "__main__":
    sys.exit(main())
