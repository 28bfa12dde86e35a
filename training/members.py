"""Split a trained ensemble into its members' model directories.

``python -m training.train --svdb`` saves the ensemble as one Keras model (the members' weights
side by side, their softmax outputs averaged) and, while it trains, each member under
``OUT/member<k>/``. The shipped ``edge/models/beat_cnn.keras`` keeps the ensemble alone, and
training again does not give the same members (TensorFlow's threaded CPU kernels are not
bit-reproducible). This recovers them from the ensemble::

    python -m training.members edge/models/beat_cnn.keras --out DIR

writes ``DIR/member<k>/beat_<kind>.keras`` and its contract for each member -- the ensemble's
own weights of sub-network ``ecg_<kind>_<k>``, its feature standardisation and window, the
records it trained on and the fold it was early-stopped on, from the ensemble's contract --
and copies the ensemble's contract to ``DIR``. Then ``python convert/quantize.py --model
DIR/member<k> --out DIR/member<k>.tflite --no-parity`` converts each, and
``python benchmarks/bench_generalisation.py --cv DIR`` scores every SVDB record with the
member that never saw its patient.
"""
from __future__ import annotations

import argparse
import shutil
from dataclasses import replace
from pathlib import Path

from edge.errors import ConfigError, EdgeError
from training.contract import contract_path, load_model, save_contract
from training.models import ModelConfig, build_model

__all__ = ["member_contract", "split_members", "main"]


def member_contract(contract: dict, k: int, *, n_params: int, keras_file: str,
                    source: str) -> dict:
    """The contract of member ``k`` of the ensemble whose contract is ``contract``."""
    tr = contract["training"]
    folds, extra = tr.get("folds") or [], tr.get("extra_folds") or []
    members = tr.get("members") or []
    n = int(contract["model"]["config"].get("ensemble", 1))
    if n < 2 or len(folds) != n or len(members) != n:
        raise ConfigError("model", f"{source} is not an ensemble with one fold per member "
                                   f"(ensemble {n}, {len(folds)} folds, {len(members)} members)")
    if not 0 <= k < n:
        raise ConfigError("member", f"must be in 0..{n - 1}, got {k}")
    held = set(folds[k]) | (set(extra[k]) if k < len(extra) else set())
    m = members[k]
    kind = contract["model"]["kind"]
    version = contract["model_version"].split("-", 1)[1] if "-" in contract["model_version"] \
        else contract["model_version"]
    out = {key: value for key, value in contract.items() if key != "training"}
    out["model_version"] = f"{kind}-{version}"
    out["model"] = {**contract["model"], "keras_file": keras_file, "params": int(n_params),
                    "config": {**contract["model"]["config"], "ensemble": 1}}
    out["training"] = {
        "records": [r for r in tr["records"] if r not in held],
        "validation_records": list(folds[k]),
        "held_out_extra_records": list(extra[k]) if k < len(extra) else [],
        "test_records": list(tr.get("test_records") or []),
        "split": tr.get("split"),
        "selection": f"member {k} of the ensemble {source} (its weights, recovered by "
                     "training.members); early-stopped on its validation records",
        "best_epoch": m.get("best_epoch"), "epochs_run": m.get("epochs_run"),
        "best_validation": m.get("best_validation"),
        "train_config": tr.get("train_config"), "dataset": tr.get("dataset"),
    }
    return out


def split_members(model: str | Path, out: str | Path) -> list[Path]:
    """Write each member of the ensemble ``model`` (a ``.keras`` file or its directory) to
    ``out/member<k>/`` and the ensemble's contract to ``out``; returns the member directories.
    """
    ensemble, contract = load_model(model)
    cfg = ModelConfig.from_dict(contract["model"]["config"])
    n = cfg.ensemble
    if n < 2:
        raise ConfigError("model", f"{model} is a single model, not an ensemble")
    single = build_model(replace(cfg, ensemble=1))
    weights = ensemble.get_weights()
    per = len(single.get_weights())
    if len(weights) != n * per:
        raise ConfigError("model", f"{model}: {len(weights)} weight arrays, expected {n} x {per}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    src = Path(model)
    keras_src = src if src.suffix == ".keras" else next(src.glob("*.keras"))
    shutil.copyfile(contract_path(keras_src), out / contract_path(keras_src).name)
    dirs = []
    for k in range(n):
        single.set_weights(weights[k * per:(k + 1) * per])
        d = out / f"member{k}"
        d.mkdir(exist_ok=True)
        path = d / f"beat_{cfg.kind}.keras"
        single.save(path)
        save_contract(member_contract(contract, k, n_params=single.count_params(),
                                      keras_file=path.name, source=str(keras_src)),
                      contract_path(path))
        dirs.append(d)
    return dirs


def main(argv: list[str] | None = None) -> int:
    from training.tool import run_tool, start_tool  # noqa: PLC0415

    ap = argparse.ArgumentParser(prog="python -m training.members", description=__doc__.split(
        "\n\n")[0])
    ap.add_argument("model", help="the ensemble: a .keras file with its contract, or its "
                                  "directory (e.g. edge/models/beat_cnn.keras)")
    ap.add_argument("--out", required=True, help="directory for member<k>/ and the contract")
    args = ap.parse_args(argv)
    start_tool()
    return run_tool("training.members: ",
                    lambda: {"members": [str(d) for d in split_members(args.model, args.out)]},
                    errors=(EdgeError, OSError, ValueError),
                    interrupted="interrupted; a member directory may be incomplete: run it again")


if __name__ == "__main__":
    raise SystemExit(main())
