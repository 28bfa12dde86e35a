"""The evaluation's figures: confusion matrices and strips of misclassified beats (PNG).

Matplotlib is imported on first use with the ``Agg`` backend (no display needed).
"""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

__all__ = ["plot_confusion", "plot_strips"]

logger = logging.getLogger(__name__)


def plot_confusion(cm: np.ndarray, classes, title: str, path: Path) -> None:
    """A confusion matrix as a PNG: cells coloured by row-normalised fraction, labelled with
    counts (rows: reference, columns: predicted)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cm = np.asarray(cm)
    norm = cm / np.maximum(cm.sum(1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(4.8, 4.2))
    ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    for i in range(cm.shape[0]):
        for j in range(cm.shape[1]):
            ax.text(j, i, f"{cm[i, j]}", ha="center", va="center", fontsize=8,
                    color="white" if norm[i, j] > 0.5 else "black")
    ax.set_xticks(range(len(classes)), classes)
    ax.set_yticks(range(len(classes)), classes)
    ax.set_xlabel("predicted")
    ax.set_ylabel("reference")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_strips(per_record: dict, cls: str, kind: str, path: Path, n: int = 6,
                seed: int = 0) -> list[dict]:
    """ECG strips of misclassified beats: ``kind`` = "FN" (true ``cls``, predicted other) or
    "FP" (predicted ``cls``, true other), from the records with the most such errors.

    ``per_record`` holds, per record, ``true`` / ``pred`` labels, ``sample_index`` (samples at
    ``wcfg.fs_hz``), ``rr_s`` (pre, post, local, long RR in s), the conditioned ``signal`` (mV)
    and the beat window ``wcfg``. Each strip shows 3 s around the beat; returns one dict per
    strip (record, ``time_s``, labels, ``rr_s``), or ``[]`` (and no file) when there is none.
    """
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rng = np.random.default_rng(seed)
    per = []
    for rec, r in per_record.items():
        t, p = np.array(r["true"]), np.array(r["pred"])
        bad = (t == cls) & (p != cls) if kind == "FN" else (p == cls) & (t != cls)
        if bad.any():
            per.append((int(bad.sum()), rec, np.flatnonzero(bad)))
    per.sort(key=lambda v: -v[0])
    picks = []
    for cnt, rec, idx in per[:3]:
        take = rng.choice(idx, size=min(len(idx), max(1, n // min(3, len(per)))), replace=False)
        picks += [(rec, int(k)) for k in sorted(take)]
    picks = picks[:n]
    if not picks:
        return []
    fig, axes = plt.subplots(len(picks), 1, figsize=(9, 1.7 * len(picks)), squeeze=False)
    info = []
    for ax, (rec, k) in zip(axes[:, 0], picks):
        r = per_record[rec]
        fs = r["wcfg"].fs_hz
        align = r["wcfg"].align_samples
        pos = int(r["sample_index"][k])
        a, b = max(0, pos - int(1.5 * fs)), min(r["signal"].size, pos + int(1.5 * fs))
        t = (np.arange(a, b) - pos) / fs
        ax.plot(t, r["signal"][a + align:b + align] if b + align <= r["signal"].size
                else r["signal"][a:b], lw=0.8, color="k")
        sidx = np.asarray(r["sample_index"])
        near = np.flatnonzero((sidx >= a) & (sidx < b))
        for j in near:
            x = (sidx[j] - pos) / fs
            tt, pp = r["true"][j], r["pred"][j]
            ax.axvline(x, color="r" if tt != pp else "0.7", lw=0.6, ls="--")
            ax.text(x, 1.0, f"{tt}>{pp}", transform=ax.get_xaxis_transform(), fontsize=7,
                    ha="center", va="bottom", color="r" if tt != pp else "0.4")
        rr = r["rr_s"][k]
        ax.set_title(f"record {rec} @ {pos / fs:.1f} s: true {r['true'][k]}, "
                     f"pred {r['pred'][k]}; RR pre {rr[0]:.2f} post {rr[1]:.2f} "
                     f"local {rr[2]:.2f} long {rr[3]:.2f} s", fontsize=8, loc="left", pad=12)
        ax.set_ylabel("mV", fontsize=7)
        ax.tick_params(labelsize=7)
        info.append({"record": rec, "time_s": pos / fs, "true": r["true"][k],
                     "pred": r["pred"][k], "rr_s": [float(v) for v in rr]})
    axes[-1, 0].set_xlabel("time from beat (s)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return info


if __name__ == "__main__":
    from training.tool import no_command

    no_command("training.plots",
               "python -m training.evaluate draws the figures")
