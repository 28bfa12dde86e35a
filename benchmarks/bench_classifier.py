"""Classifier latency and throughput on this machine: int8 vs float, CNN vs LSTM.

For each trained Keras model given, the benchmark converts a float32 TFLite model and a
full-int8 one (with the same embedded contract, via ``convert/quantize.py``'s functions), then
times :class:`edge.model.classifier.BeatClassifier` -- the device's own code path on LiteRT, one
thread -- classifying single beats (median and p99 latency over ``--beats`` beats) and reports
beats per second and model size. Inputs are real DS1 beats (the representative-set builder).

    python benchmarks/bench_classifier.py --model cnn=edge/models/cnn --model lstm=models/lstm

Writes ``benchmarks/results/classifier.json`` and ``.md``.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import output_dir, positive_int, run_bench  # noqa: E402


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _float_tflite(model, contract) -> bytes:
    import tensorflow as tf

    from convert.quantize import embed_contract
    from training.models import ModelConfig, fixed_batch_copy

    fixed = fixed_batch_copy(model, ModelConfig.from_dict(contract["model"]["config"]), 1)
    return embed_contract(bytes(tf.lite.TFLiteConverter.from_keras_model(fixed).convert()),
                          contract)


def bench_one(name: str, model_path: str, n_beats: int, workdir: Path) -> list[dict]:
    from convert.quantize import convert_int8, embed_contract, representative_set
    from edge.model.classifier import BeatClassifier
    from training.contract import load_model

    model, contract = load_model(model_path)
    beat, feats = representative_set(contract, per_class=200)
    int8 = embed_contract(convert_int8(model, contract, beat, feats), contract)
    flt = _float_tflite(model, contract)
    rows = []
    # Raw (unstandardised) features are what BeatClassifier takes: undo the standardisation.
    st = contract["features"]["standardize"]
    raw_feats = feats * np.asarray(st["std"], np.float32) + np.asarray(st["mean"], np.float32)
    rng = np.random.default_rng(0)
    idx = rng.integers(0, beat.shape[0], size=n_beats)
    for kind, data in (("int8", int8), ("float32", flt)):
        path = workdir / f"{name}_{kind}.tflite"
        path.write_bytes(data)
        clf = BeatClassifier(path, allow_float=kind == "float32")
        for i in idx[:50]:  # warm-up
            clf.predict_proba(beat[i:i + 1], raw_feats[i:i + 1])
        lat = np.empty(n_beats)
        for k, i in enumerate(idx):
            t0 = time.perf_counter()
            clf.predict_proba(beat[i:i + 1], raw_feats[i:i + 1])
            lat[k] = time.perf_counter() - t0
        t0 = time.perf_counter()
        c0 = time.process_time()
        clf.predict_proba(beat[idx], raw_feats[idx])
        wall = time.perf_counter() - t0
        cpu = time.process_time() - c0
        rows.append({"model": name, "dtype": kind, "size_bytes": len(data),
                     "params": int(contract["model"]["params"]),
                     "median_us": float(np.median(lat) * 1e6),
                     "p99_us": float(np.percentile(lat, 99) * 1e6),
                     "beats_per_s": n_beats / wall, "cpu_s_per_1k_beats": 1000 * cpu / n_beats})
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", action="append", required=True, metavar="NAME=PATH",
                    help="a trained Keras model (.keras file or its folder); repeatable")
    ap.add_argument("--beats", type=positive_int, default=2000)
    ap.add_argument("--out", type=output_dir, default="benchmarks/results")
    args = ap.parse_args(argv)
    specs = []
    for spec in args.model:
        name, eq, path = spec.partition("=")
        if not (eq and name.strip() and path.strip()):
            ap.error(f"--model {spec!r}: expected NAME=PATH (e.g. cnn=edge/models/beat_cnn.keras)")
        specs.append((name.strip(), path.strip()))
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    return run_bench("bench_classifier", lambda: _run(args, specs))


def _run(args: argparse.Namespace, specs: list[tuple[str, str]]) -> int:
    from training.contract import load_model

    for _, path in specs:  # every model read before any is converted or timed
        load_model(path)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, path in specs:
            rows += bench_one(name, path, args.beats, Path(tmp))
    import ai_edge_litert
    meta = {"date": time.strftime("%Y-%m-%d"), "cpu": _cpu_model(), "python":
            platform.python_version(), "numpy": np.__version__,
            "ai_edge_litert": getattr(ai_edge_litert, "__version__", "?"), "threads": 1,
            "command": "python benchmarks/bench_classifier.py " + " ".join(
                f"--model {m}" for m in args.model) + f" --beats {args.beats}"}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "classifier.json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=1))
    lines = [f"Single-beat classification on {meta['cpu']}, LiteRT "
             f"{meta['ai_edge_litert']}, 1 thread, {args.beats} real DS1 beats "
             f"({meta['date']}).", "",
             "| model | tensors | size (bytes) | params | median latency (µs) | p99 (µs) | "
             "beats/s | CPU s per 1000 beats |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['model']} | {r['dtype']} | {r['size_bytes']} | {r['params']} | "
                     f"{r['median_us']:.0f} | {r['p99_us']:.0f} | {r['beats_per_s']:.0f} | "
                     f"{r['cpu_s_per_1k_beats']:.3f} |")
    lines += ["", f"Reproduce: `{meta['command']}`", ""]
    (out / "classifier.md").write_text("\n".join(lines))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
