"""``python convert/quantize.py``: a trained Keras beat classifier -> one deployable int8 file.

Full-integer quantization (int8 weights, activations, input and output tensors) with a
representative dataset drawn from DS1 and stratified by class; the preprocessing contract
(processing rate, window, RR and feature definitions with their standardisation, classes,
filters, training data and split, model version, quantization) is embedded in the ``.tflite``
as metadata ``ecg_edge_contract``; then a parity report compares the float model with the int8
model on DS2 (label agreement, per-class F1 of both, size), printed and written beside the
output as ``<out>.parity.json`` / ``.md``.

Usage::

    python convert/quantize.py --model models/cnn --out edge/models/ecg_cnn_int8.tflite
"""
from __future__ import annotations

import argparse
import datetime as _dt
import json
import logging
import os
import sys
import time
from pathlib import Path

import numpy as np

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from edge.aami import AAMI_CLASSES  # noqa: E402
from edge.cli.common import positive_int  # noqa: E402
from edge.errors import EdgeError, ModelError  # noqa: E402
from edge.eval.scoring import class_metrics, confusion_matrix  # noqa: E402
from edge.model.classifier import BeatClassifier  # noqa: E402
from edge.model.seal import (  # noqa: E402
    SEALED_FROM_KEY,
    TFLITE_SEAL_KEY,
    seal_tflite,
    tflite_seal_placeholder,
)
from edge.model.tflite_meta import (  # noqa: E402
    CONTRACT_METADATA_NAME,
    contract_span,
    read_contract,
)
from training.contract import dataset_config, load_model, model_inputs  # noqa: E402
from training.data import DS1, DS2  # noqa: E402
from training.dataset import build_dataset  # noqa: E402
from training.models import ModelConfig, fixed_batch_copy  # noqa: E402

__all__ = ["representative_set", "convert_int8", "int8_flatbuffer", "embed_contract",
           "parity_report", "quantize", "EMBEDDING_LAYER", "embedding_model",
           "convert_int8_embedding", "quantize_embedding", "main"]

#: Layer of each ensemble member whose activations form the beat embedding (the dense layer
#: after the morphology embedding and the RR features are concatenated).
EMBEDDING_LAYER = "head"

logger = logging.getLogger("convert.quantize")


def representative_set(contract: dict, *, per_class: int = 200, seed: int = 0,
                       records=None, data_dir=None) -> tuple[np.ndarray, np.ndarray]:
    """Model inputs (beat, standardised features) from DS1, up to ``per_class`` per class."""
    recs = list(records or contract.get("training", {}).get("records") or DS1)
    data = build_dataset(recs, dataset_config(contract), augment=False, progress=False,
                         data_dir=data_dir)
    rng = np.random.default_rng(seed)
    pick = []
    for k in range(len(AAMI_CLASSES)):
        idx = np.flatnonzero(data.label == k)
        if idx.size:
            pick.append(rng.choice(idx, size=min(per_class, idx.size), replace=False))
    sel = np.sort(np.concatenate(pick))
    x = model_inputs(data.beat[sel], data.features[sel], contract)
    return x["beat"], x["features"]


def convert_int8(model, contract: dict, beat: np.ndarray, feats: np.ndarray) -> bytes:
    """Full-int8 TFLite flatbuffer of a Keras model (fixed batch 1)."""
    fixed = fixed_batch_copy(model, ModelConfig.from_dict(contract["model"]["config"]), 1)
    return _int8_flatbuffer(fixed, beat, feats)


def _int8_flatbuffer(keras_model, beat: np.ndarray, feats: np.ndarray) -> bytes:
    """Full-integer conversion (int8 weights, activations, inputs and outputs) of a batch-1
    Keras model, calibrated on the given model inputs (standardised features)."""

    def rep():
        # Keyed by input name: the converter's own input order need not match Keras's.
        for i in range(beat.shape[0]):
            yield {"beat": beat[i:i + 1], "features": feats[i:i + 1]}

    return int8_flatbuffer(keras_model, rep)


def int8_flatbuffer(keras_model, representative) -> bytes:  # noqa: ANN001
    """Full-integer conversion (int8 weights, activations, inputs and outputs) of a batch-1
    Keras model, calibrated on what the generator function ``representative`` yields."""
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_keras_model(keras_model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = representative
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    return bytes(converter.convert())


def embed_contract(tflite_bytes: bytes, contract: dict) -> bytes:
    """Return the model with ``contract`` stored as metadata :data:`CONTRACT_METADATA_NAME`
    (replacing an earlier one), sealed with the file's SHA-256 (:mod:`edge.model.seal`)."""
    from tensorflow.lite.python import schema_py_generated as schema_fb
    from tensorflow.lite.tools import flatbuffer_utils

    obj = flatbuffer_utils.convert_bytearray_to_object(bytearray(tflite_bytes))
    contract = {k: v for k, v in contract.items() if k != TFLITE_SEAL_KEY}
    blob = json.dumps({**contract, TFLITE_SEAL_KEY: tflite_seal_placeholder()}, sort_keys=True,
                      separators=(",", ":")).encode("utf-8")
    contract.pop(SEALED_FROM_KEY, None)  # read back as the seal's, not the contract's
    buf = schema_fb.BufferT()
    buf.data = np.frombuffer(blob, dtype=np.uint8)
    earlier = [m for m in (obj.metadata or [])
               if (m.name.decode() if isinstance(m.name, bytes) else m.name)
               == CONTRACT_METADATA_NAME]
    if earlier:  # the earlier contract's buffer takes the new one (no orphan left in the file)
        md = earlier[0]
        obj.buffers[md.buffer] = buf
        obj.metadata = [m for m in obj.metadata if m is md
                        or (m.name.decode() if isinstance(m.name, bytes) else m.name)
                        != CONTRACT_METADATA_NAME]
    else:
        obj.buffers.append(buf)
        md = schema_fb.MetadataT()
        md.name = CONTRACT_METADATA_NAME
        md.buffer = len(obj.buffers) - 1
        obj.metadata = [*(obj.metadata or []), md]
    raw = bytes(flatbuffer_utils.convert_object_to_bytearray(obj))
    out = seal_tflite(raw, contract_span(raw))
    if read_contract(out) != json.loads(json.dumps(contract)):
        raise ModelError("contract embedding did not round-trip")
    return out


def parity_report(model, contract: dict, tflite_path: str | os.PathLike, *, records=None,
                  data_dir=None) -> dict:
    """Float (Keras) vs int8 (LiteRT) on DS2 at the reference beats."""
    recs = list(records or DS2)
    data = build_dataset(recs, dataset_config(contract), augment=False, progress=False,
                         data_dir=data_dir)
    t0 = time.perf_counter()
    p_float = model.predict(model_inputs(data.beat, data.features, contract), batch_size=1024,
                            verbose=0)
    clf = BeatClassifier(tflite_path)
    t1 = time.perf_counter()
    p_int8 = clf.predict_proba(data.beat, data.features)
    t2 = time.perf_counter()
    truth = np.asarray(AAMI_CLASSES, dtype=object)[data.label]
    lf = np.asarray(AAMI_CLASSES, dtype=object)[p_float.argmax(1)]
    lq = np.asarray(AAMI_CLASSES, dtype=object)[p_int8.argmax(1)]
    mf = class_metrics(confusion_matrix(truth, lf))
    mq = class_metrics(confusion_matrix(truth, lq))
    return {
        "records": recs,
        "n_beats": int(truth.size),
        "label_agreement": float(np.mean(lf == lq)),
        "float": mf,
        "int8": mq,
        "f1_delta_points": {c: 100 * (mq["per_class"][c]["f1"] - mf["per_class"][c]["f1"])
                            for c in AAMI_CLASSES},
        "int8_size_bytes": Path(tflite_path).stat().st_size,
        "int8_seconds": t2 - t1,
        "float_seconds": t1 - t0,
    }


def _parity_markdown(rep: dict, contract: dict) -> str:
    lines = [f"# Float vs int8 parity: {contract.get('model_version')}", "",
             (f"DS2 inter-patient, reference beat positions, {rep['n_beats']} beats "
              f"({len(rep['records'])} records)." if sorted(rep["records"]) == sorted(DS2)
              else f"Records {', '.join(rep['records'])} (not DS2), reference beat positions, "
                   f"{rep['n_beats']} beats."), "",
             f"- label agreement: **{100 * rep['label_agreement']:.2f} %**",
             f"- int8 model size: {rep['int8_size_bytes']} bytes", "",
             "| class | float Se | float +P | float F1 | int8 Se | int8 +P | int8 F1 | ΔF1 (pts) |",
             "|---|---|---|---|---|---|---|---|"]
    for c in AAMI_CLASSES:
        f, q = rep["float"]["per_class"][c], rep["int8"]["per_class"][c]
        lines.append(f"| {c} | {100 * f['se']:.1f} | {100 * f['ppv']:.1f} | {100 * f['f1']:.1f}"
                     f" | {100 * q['se']:.1f} | {100 * q['ppv']:.1f} | {100 * q['f1']:.1f} | "
                     f"{rep['f1_delta_points'][c]:+.2f} |")
    lines += ["", f"Accuracy: float {100 * rep['float']['accuracy']:.2f} %, int8 "
              f"{100 * rep['int8']['accuracy']:.2f} %.", ""]
    return "\n".join(lines)


def _deployable_contract(contract: dict, per_class: int, n_beats: int) -> dict:
    """The contract as embedded in a converted model: plus how it was quantized, and the
    Keras file named without the workstation's path."""
    embedded = dict(contract)
    embedded["quantization"] = {
        "scheme": "full-int8 (int8 weights, activations, inputs and outputs)",
        "representative": {"source": "DS1 reference beats, stratified by class",
                           "per_class": per_class, "n_beats": n_beats},
        "converted_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }
    embedded["model"] = dict(contract["model"],
                             keras_file=Path(contract["model"]["keras_file"]).name)
    return embedded


def check_out_path(out: str | os.PathLike, model: str | os.PathLike) -> Path:
    """``out`` as a path a converter may write: a ``.tflite`` file that is not the model it
    converts.

    Raises
    ------
    ModelError
        Naming ``out`` and why (it replaced the ``.keras`` input with tflite bytes).
    """
    from edge.errors import ModelError  # noqa: PLC0415

    o, m = Path(out).expanduser(), Path(model).expanduser()
    if o.suffix != ".tflite":
        raise ModelError(f"--out must name a .tflite file, got {o.name!r}", str(o))
    if o.is_dir():
        raise ModelError("--out is a folder, not a .tflite file", str(o))
    if o.resolve() == m.resolve():
        raise ModelError("--out is the model being converted", str(o))
    return o


def _write_checked(out: str | os.PathLike, data: bytes, check) -> Path:  # noqa: ANN001
    """Write ``data`` to ``out`` only once ``check`` (called with a path) accepts it: written
    beside it first and renamed, so a failed conversion never leaves a file at ``out`` nor
    replaces a good one there."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    try:
        tmp.write_bytes(data)
        check(tmp)
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return out


def quantize(model_path: str | os.PathLike, out: str | os.PathLike, *, per_class: int = 200,
             parity: bool = True, parity_records=None, data_dir=None) -> dict:
    """Convert, embed the contract, verify it loads on the device path, and report parity."""
    model, contract = load_model(model_path)
    logger.info("representative set: up to %d beats per class from DS1", per_class)
    beat, feats = representative_set(contract, per_class=per_class, data_dir=data_dir)
    tfl = convert_int8(model, contract, beat, feats)
    embedded = _deployable_contract(contract, per_class, int(beat.shape[0]))
    data = embed_contract(tfl, embedded)
    out = _write_checked(out, data, BeatClassifier)  # the device's own check must accept it
    result = {"out": str(out), "size_bytes": len(data)}
    if parity:
        rep = parity_report(model, contract, out, records=parity_records, data_dir=data_dir)
        md = _parity_markdown(rep, contract)
        out.with_suffix(".parity.json").write_text(json.dumps(rep, indent=1) + "\n")
        out.with_suffix(".parity.md").write_text(md)
        print(md)
        result["parity"] = rep
    return result


def embedding_model(model, config, *, batch_size: int | None = 1,
                    layer: str = EMBEDDING_LAYER):
    """A two-output copy of a trained beat classifier, without retraining.

    Parameters
    ----------
    model : the trained Keras model (one network or an ensemble of ``ecg_<kind>_<i>`` members
        averaged by a layer named ``probabilities``).
    config : its :class:`training.models.ModelConfig`.
    batch_size : fixed batch size of the copy (1 for TFLite conversion).
    layer : the member layer whose activations form the embedding.

    Returns
    -------
    keras.Model
        Inputs unchanged (``beat``, ``features``); outputs ``probabilities`` (the same class
        scores as ``model``) and ``embedding`` (the ``layer`` activations of every member,
        concatenated in member order: ``ensemble * head_units`` values for ``"head"``).
    """
    import keras
    from keras import layers

    fixed = fixed_batch_copy(model, config, batch_size)
    beat, feats = fixed.inputs
    members = ([fixed] if config.ensemble == 1 else
               [fixed.get_layer(f"ecg_{config.kind}_{i}") for i in range(config.ensemble)])
    probs, embeds = [], []
    for m in members:
        two = keras.Model(m.inputs, [m.get_layer("probabilities").output,
                                     m.get_layer(layer).output], name=f"{m.name}_embed")
        p, e = two([beat, feats])
        probs.append(p)
        embeds.append(e)
    if len(members) == 1:
        p = layers.Identity(name="probabilities")(probs[0])
        e = layers.Identity(name="embedding")(embeds[0])
    else:
        p = layers.Average(name="probabilities")(probs)
        e = layers.Concatenate(name="embedding")(embeds)
    return keras.Model([beat, feats], {"probabilities": p, "embedding": e},
                       name=f"{fixed.name}_embed")


def convert_int8_embedding(model, contract: dict, beat: np.ndarray, feats: np.ndarray, *,
                           layer: str = EMBEDDING_LAYER) -> tuple[bytes, int]:
    """Full-int8 TFLite flatbuffer of the two-output :func:`embedding_model` of ``model``.

    Returns the flatbuffer and the embedding size (values per beat). The representative set is
    the one :func:`convert_int8` uses, so the class scores are quantized alike.
    """
    two = embedding_model(model, ModelConfig.from_dict(contract["model"]["config"]), layer=layer)
    size = int(two.output["embedding"].shape[-1]) if isinstance(two.output, dict) else \
        int(two.outputs[1].shape[-1])
    return _int8_flatbuffer(two, beat, feats), size


def quantize_embedding(model_path: str | os.PathLike, out: str | os.PathLike, *,
                       per_class: int = 200, layer: str = EMBEDDING_LAYER,
                       data_dir=None) -> dict:
    """Convert a trained model to a full-int8 two-output model (class scores + embedding).

    The contract gains ``"embedding": {"name": "embedding", "layer": layer, "size": n,
    "members": ensemble}``; the device (:class:`edge.model.classifier.BeatClassifier`) tells the two
    outputs apart by their width and exposes the embedding with ``predict_embedding``.
    """
    model, contract = load_model(model_path)
    beat, feats = representative_set(contract, per_class=per_class, data_dir=data_dir)
    tfl, size = convert_int8_embedding(model, contract, beat, feats, layer=layer)
    embedded = _deployable_contract(contract, per_class, int(beat.shape[0]))
    embedded["embedding"] = {"name": "embedding", "layer": layer, "size": size,
                             "members": int(contract["model"]["config"].get("ensemble", 1))}
    data = embed_contract(tfl, embedded)

    def check(path: Path) -> None:
        if BeatClassifier(path).embedding_size != size:
            raise ModelError(f"{out}: the converted model exposes no {size}-value embedding")

    out = _write_checked(out, data, check)
    return {"out": str(out), "size_bytes": len(data), "embedding_size": size}


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="quantize", description=__doc__.split("\n\n")[0])
    p.add_argument("--model", required=True, help="trained model (.keras file or its folder, "
                   "with the .contract.json beside it)")
    p.add_argument("--out", required=True, help="output .tflite")
    p.add_argument("--per-class", type=positive_int, default=200,
                   help="representative beats per class from DS1 (default 200)")
    p.add_argument("--no-parity", action="store_true", help="skip the DS2 float-vs-int8 report")
    p.add_argument("--parity-records", default=None,
                   help="comma-separated records for the parity report (default: all of DS2)")
    p.add_argument("--data-dir", default=None, help="MIT-BIH directory (default $MITDB_DIR)")
    p.add_argument("--embedding", action="store_true",
                   help="write a two-output model (class scores + the members' concatenated "
                   f"'{EMBEDDING_LAYER}' activations) for patient adaptation (ecg-edge adapt); "
                   "no parity report")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import importlib.util
    missing = [m for m in ("tensorflow", "keras") if importlib.util.find_spec(m) is None]
    if missing:
        print(f"quantize: error: converting needs {' and '.join(missing)} (the workstation "
              "install: pip install 'ecg-edge[train]'); the device needs neither",
              file=sys.stderr)
        return 2
    t_start = time.time()
    try:
        check_out_path(args.out, args.model)  # refused now, not after the conversion
        if args.parity_records and not args.no_parity:  # found now, not after the conversion
            from edge.io.records import resolve_record  # noqa: PLC0415

            for r in args.parity_records.split(","):
                resolve_record(r, data_dir=args.data_dir)
        if args.embedding:
            res = quantize_embedding(args.model, args.out, per_class=args.per_class,
                                     data_dir=args.data_dir)
            print(f"wrote {res['out']} ({res['size_bytes']} bytes, embedding of "
                  f"{res['embedding_size']} values)")
            return 0
        res = quantize(args.model, args.out, per_class=args.per_class, parity=not args.no_parity,
                       parity_records=args.parity_records.split(",") if args.parity_records
                       else None, data_dir=args.data_dir)
    except KeyboardInterrupt:
        out = Path(args.out)
        new = out.is_file() and out.stat().st_mtime >= t_start
        done = (f"{out} was written, its parity report was not" if new
                else f"{out} was not written")
        print(f"quantize: interrupted; {done}", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - the CLI reports every failure in one line
        if not isinstance(exc, (EdgeError, ValueError, OSError)):
            raise
        print(f"quantize: error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {res['out']} ({res['size_bytes']} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
