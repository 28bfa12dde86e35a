"""``ecg-edge annotate``: classify the beats of a WFDB record (detected, or at a reference
annotation file's beats) and write them as a WFDB annotation file.

Beats next to invalid samples (missing -- WFDB's invalid value --, flat or saturated): a beat
whose window touches them is written as ``Q`` (unclassifiable), an RR interval across them is
replaced by the local mean (see :mod:`edge.pipeline`); a warning gives the counts.
"""
from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

from edge.cli.common import (
    MAX_CHUNK_S,
    add_common,
    annotator,
    bounded_float,
    check_annotation_output,
    non_negative_int,
    output_annotator,
    output_dir,
    read_channel,
    warn_if_no_beats,
)
from edge.model.bundled import default_model_path

__all__ = ["add_parser", "cmd_annotate", "reference_positions", "DEFAULT_CHUNK_S"]

logger = logging.getLogger(__name__)

#: ``--chunk-s`` by default: a quarter cheaper per hour than 10 s, a few MB more memory.
DEFAULT_CHUNK_S = 60.0


def cmd_annotate(args: argparse.Namespace) -> int:
    import numpy as np

    from edge.io.records import check_annotation_rate, read_annotations
    from edge.io.wfdb_io import write_annotations
    from edge.model.classifier import BeatClassifier
    from edge.pipeline import BeatPipeline, classify_at

    check_annotation_output(args.record, args.ext, args.out_dir, reads=args.reference_beats,
                            data_dir=args.data_dir)
    if args.adapted:
        from edge.model.adapt import AdaptedClassifier
        clf = AdaptedClassifier.load(args.adapted, args.model)
    else:
        clf = BeatClassifier(args.model or default_model_path())
    rec, channel = read_channel(args.record, args.channel, args.data_dir,
                                lead=clf.contract.lead)
    x = rec.signal_mv[:, 0]
    t0 = time.process_time()
    vf, vf_cpu_s = None, 0.0
    if args.reference_beats:
        ann = read_annotations(args.record, args.reference_beats, data_dir=args.data_dir)
        check_annotation_rate(ann, rec.fs_hz, f"--reference-beats {args.reference_beats}")
        positions = reference_positions(ann, x.size, f"{rec.name}.{args.reference_beats}")
        beats = classify_at(clf, x, rec.fs_hz, positions)
        mode = f"at the {beats.sample_index.size} beats of '{args.reference_beats}'"
    else:
        pipe = BeatPipeline(clf, rec.fs_hz)
        step = max(1, int(args.chunk_s * rec.fs_hz))
        if args.rhythm:  # VF on the pipeline's conditioned chunks, as the daemon runs it
            beats, vf, vf_cpu_s = _run_with_vf(pipe, x, step, models=args.vf_models)
        else:
            beats = pipe.run(x, step)
        mode = "at detected beats"
    cpu_s = time.process_time() - t0 - vf_cpu_s
    n_window = int(beats.window_invalid.sum())
    n_rr = int((beats.near_invalid & ~beats.window_invalid).sum())
    if n_window or n_rr:
        logger.warning("%s channel %d: %d beats next to invalid samples (%d missing, others "
                       "flat or saturated): %d written as Q (their window touches them), %d "
                       "with an RR interval across them replaced by the local mean", rec.name,
                       channel, n_window + n_rr, int(np.sum(~np.isfinite(x))), n_window,
                       n_rr)
    changes = None
    if args.rhythm or args.rhythm_context:
        from edge.rhythm import RhythmConfig, rhythm_aware
        aware = rhythm_aware(beats, rec.fs_hz)
        if args.rhythm_context:
            beats = aware.beats
            mode += (f", {aware.n_changed - aware.n_svt} S calls in confirmed AF/AFL reported N, "
                     f"{aware.n_svt} N calls in supraventricular runs reported S")
        if args.rhythm:
            changes = rhythm_changes(
                aware.rhythm, beats.sample_index, n_samples=x.size,
                unreadable_samples=int(round(RhythmConfig().noise_s * rec.fs_hz)))
            n_af = sum(1 for _, name in changes if name == "AFIB")
            vent = ventricular_episodes(x, rec.fs_hz, beats,
                                        max(1, int(args.chunk_s * rec.fs_hz)), vf=vf,
                                        classes=clf.classes, vf_models=args.vf_models)
            changes = overlay_changes(changes, vent)
            n_noise = sum(1 for _, name in changes if name == "NOISE")  # as written (outside
            # ventricular episodes, which take precedence)
            n_vf = sum(1 for *_, name in vent if name != "VT")
            mode += (f", rhythm: {n_af} AF/AFL episodes, {n_vf} VF/VFL, "
                     f"{len(vent) - n_vf} VT, {n_noise} unreadable stretches")
    warn_if_no_beats(len(beats), x, rec.fs_hz, rec.name)
    path = write_annotations(rec.name, args.ext, beats.sample_index, beats.label, rec.fs_hz,
                             args.out_dir, rhythm_changes=changes)
    counts = {c: int(np.sum(beats.label == c)) for c in clf.classes}
    print(f"{rec.name}: {len(beats)} beats classified {mode} with {clf.path.name} "
          f"({clf.model_version}) -> {path}  {counts}  [{cpu_s:.1f} CPU s]")
    return 0


def reference_positions(ann, n_samples: int, name: str):  # noqa: ANN001, ANN201
    """The beat positions of an annotation file (its AAMI beat codes) that lie in a signal of
    ``n_samples``, increasing and once each; what is left out is logged with its count. An
    annotation file without a beat in the signal is an :class:`~edge.errors.EdgeError`."""
    import numpy as np  # noqa: PLC0415

    from edge.aami import AAMI_MAP  # noqa: PLC0415
    from edge.errors import EdgeError  # noqa: PLC0415

    at = np.asarray(ann.sample_index, dtype=np.int64)[np.isin(ann.symbol, list(AAMI_MAP))]
    inside = (at >= 0) & (at < n_samples)
    if not inside.all():
        logger.warning("%s: %d beat annotations outside the signal (0..%d) left out", name,
                       int((~inside).sum()), n_samples - 1)
    kept = np.unique(at[inside])  # sorted, once each
    if kept.size < int(inside.sum()):
        logger.warning("%s: %d beat annotations at a sample already annotated left out", name,
                       int(inside.sum()) - kept.size)
    if kept.size == 0:
        raise EdgeError(f"{name}: no beat annotation in the signal ({ann.sample_index.size} "
                        f"annotations in all); is it the record's beat annotation file?")
    return kept


def rhythm_changes(result, sample_index, *, n_samples: int | None = None,  # noqa: ANN001
                   unreadable_samples: int | None = None) -> list[tuple[int, str]]:
    """The rhythm changes of an analyser result (:func:`edge.rhythm.analyse_beats` over the
    beats at ``sample_index``) as ``(sample, name)`` for
    :func:`edge.io.wfdb_io.write_annotations` ('+' annotations, aux note ``(name``): ``N`` at
    sample 0 (as MIT-BIH opens its files), then every change the analyser reports, dated
    where the rhythm changed.

    With the record's length ``n_samples`` and ``unreadable_samples`` (the analyser's
    ``noise_s`` in samples), a record's edges are judged as the analyser judges a long
    interval inside it: ``NOISE`` from sample 0 when the first beat comes that late or later
    (or there is no beat at all), and from the last beat when no beat follows it for that
    long (signal lost before the recording ended). The analyser itself only sees intervals
    between beats, so without this a flat or lead-off stretch at either end of a record
    would be written as the rhythm next to it."""
    from edge.rhythm import WFDB_AUX

    n_beats = len(sample_index)
    edges = n_samples is not None and unreadable_samples is not None
    out: list[tuple[int, str]] = []
    first_beat = int(sample_index[0]) if n_beats else (n_samples if edges else 1)
    if first_beat > 0 and not (result.changes and result.changes[0].sample_index == 0):
        late = edges and first_beat >= unreadable_samples
        out.append((0, "NOISE" if late else "N"))
    for change in result.changes:
        name = WFDB_AUX[change.rhythm].lstrip("(")
        if not out or out[-1][1] != name:
            out.append((int(change.sample_index), name))
    if edges and n_beats and n_samples - int(sample_index[-1]) >= unreadable_samples:
        last = int(sample_index[-1])
        if out and out[-1][0] >= last:  # a change dated at the last beat: NOISE from there
            out.pop()
        if not out or out[-1][1] != "NOISE":
            out.append((last, "NOISE"))
    return out


def _run_with_vf(pipe, x, step: int, *, models: str = "monitor"):  # noqa: ANN001, ANN202
    """:meth:`edge.pipeline.BeatPipeline.run` over ``x`` that also feeds every chunk's
    conditioned samples to a VF detector (the bundled ``models`` pair), as the daemon does;
    returns the beats, the VF/VFL episodes (input-rate samples) and the detector's CPU
    seconds."""
    from edge.rhythm.ventricular import VentricularConfig, VfDetector, vf_change_episodes

    fs_proc = pipe.preprocessor.config.fs_out_hz
    det = VfDetector(VentricularConfig(fs_hz=fs_proc, models=models),
                     changes_only=True)  # episodes alone
    changes = []
    cpu_s = 0.0

    def vf_chunk(cond) -> None:  # noqa: ANN001
        nonlocal cpu_s
        t0 = time.process_time()
        det.add_beats(pipe.peaks, pipe.peaks_decided_at,
                      lag_samples=pipe.detector.decision_lag_samples)
        changes.extend(det.process(cond).changes)
        cpu_s += time.process_time() - t0

    beats = pipe.run(x, step, on_chunk=vf_chunk)
    t0 = time.process_time()
    changes += det.end()
    vf = vf_change_episodes(changes, pipe.fs_in_hz, fs_proc)
    cpu_s += time.process_time() - t0
    return beats, vf, cpu_s


def ventricular_episodes(x, fs_hz: float, beats, chunk_samples: int,  # noqa: ANN001
                         vf: list[tuple[int, int, str]] | None = None,
                         classes: tuple[str, ...] | None = None,
                         vf_models: str = "monitor") -> list[tuple[int, int, str]]:
    """VF/VFL episodes (``vf`` when the caller ran the detector on the pipeline's conditioned
    signal, else :func:`edge.rhythm.ventricular.vf_episodes` on the signal) and VT episodes
    of the beats (runs of V beats, :class:`edge.runtime.ventricular.VtTracker`, with its
    evidence gate on P(V) when ``classes`` names the columns of ``beats.proba``, as the
    daemon's) as ``(start, end, name)``, time order; a VT run inside a VF/VFL episode is left
    out. ``vf_models``: the bundled VF pair :func:`vf_episodes` runs."""
    import numpy as np

    from edge.rhythm.ventricular import VentricularConfig, vf_episodes
    from edge.runtime.alerts import BeatInfo, v_probabilities
    from edge.runtime.ventricular import VtTracker

    if vf is None:
        vf = vf_episodes(np.nan_to_num(x), fs_hz, chunk_samples=chunk_samples,
                         config=VentricularConfig(models=vf_models))
    tracker = VtTracker(fs_hz=fs_hz)
    p_v = (v_probabilities(beats.proba, classes) if classes is not None
           else np.full(len(beats.sample_index), np.nan))
    infos = [BeatInfo(int(s), str(lab), float("nan"), True, float(p))
             for s, lab, p in zip(beats.sample_index, beats.label, p_v)]
    alerts = tracker.process(infos) + tracker.flush()
    vt: list[tuple[int, int, str]] = []
    start = None
    for a in alerts:
        if a.state == "onset":
            start = a.sample_index
        elif start is not None:
            vt.append((start, max(a.sample_index, start + 1), "VT"))
            start = None
    vt = [e for e in vt if not any(e[0] < b and a < e[1] for a, b, _ in vf)]
    return sorted(vf + vt)


def overlay_changes(base: list[tuple[int, str]],
                    episodes: list[tuple[int, int, str]]) -> list[tuple[int, str]]:
    """Rhythm changes ``base`` (``(sample, name)``, time order) with ventricular episodes laid
    over them: ``(start, name)`` at each episode's start, and at its end the base rhythm in
    force then; base changes inside an episode are moved to its end."""
    def base_at(t: int) -> str:
        name = "N"
        for s, n in base:
            if s > t:
                break
            name = n
        return name

    out: list[tuple[int, str]] = []
    events = [(s, n, "b") for s, n in base]
    for a, b, name in episodes:
        events.append((a, name, "s"))
        events.append((b, "", "e"))
    inside = 0
    for s, name, what in sorted(events, key=lambda e: (e[0], e[2] != "e")):
        if what == "s":
            inside += 1
            out.append((s, name))
        elif what == "e":
            inside -= 1
            if inside == 0:
                out.append((s, base_at(s)))
        elif inside == 0:
            out.append((s, name))
    merged: list[tuple[int, str]] = []
    for s, name in out:
        if merged and merged[-1][0] >= s - 1:
            # The earlier rhythm held for at most one sample (a VF episode ending on the sample
            # before a VT run's first beat, CUDB cu18): there is no room for two '+'
            # annotations, so the later rhythm takes the earlier one's place.
            s = merged.pop()[0]
        if not merged or merged[-1][1] != name:
            merged.append((s, name))
    return merged


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Add ``annotate`` to ``ecg-edge``'s sub-commands."""
    p = subparsers.add_parser("annotate", help="classify the beats of a WFDB record with the int8 "
                              "model and write them as a WFDB annotation file (N/S/V/F/Q)")
    p.add_argument("record", help="MIT-BIH record name or WFDB record path (any sample rate)")
    p.add_argument("--model", default=None, type=Path,
                   help="int8 .tflite model (default: the bundled model)")
    p.add_argument("--adapted", default=None, type=Path,
                   help="per-wearer head from `ecg-edge adapt` (its base model: --model, else "
                   "the bundled default_embed.tflite)")
    p.add_argument("--channel", type=non_negative_int, default=None,
                   help="signal channel (default: the one named as the model's lead, MLII, or "
                        "a lead II; else 0)")
    p.add_argument("--ext", type=output_annotator, default="cls",
                   help="annotation file extension (default cls)")
    p.add_argument("--out-dir", default=".", type=output_dir,
                   help="where to write the annotation file (default: the current directory)")
    p.add_argument("--reference-beats", type=annotator, default=None, metavar="EXT",
                   help="classify at the beats of this annotation file (e.g. atr) instead of "
                   "detected beats")
    p.add_argument("--data-dir", default=None, help="MIT-BIH directory (default $MITDB_DIR)")
    p.add_argument("--chunk-s", type=bounded_float(MAX_CHUNK_S, "s"), default=DEFAULT_CHUNK_S,
                   help="with detected beats: feed the streaming pipeline this many seconds "
                   f"at a time (> 0, <= {MAX_CHUNK_S:g}; default {DEFAULT_CHUNK_S:g}: a "
                   "quarter cheaper per hour than 10 s, a few MB more memory; the result does "
                   "not depend on it)")
    p.add_argument("--rhythm", action="store_true",
                   help="also write the rhythm (atrial fibrillation/flutter episodes from the "
                   "rhythm analyser, ventricular fibrillation/flutter from the VF detector, "
                   "ventricular tachycardia from runs of >= 3 V beats at >= 100 bpm) as "
                   "MIT-BIH '+' annotations with aux notes '(N' / '(AFIB' / '(VF' / '(VFL' / "
                   "'(VT', and '(NOISE' for >= 10 s of implausible beat intervals")
    p.add_argument("--vf-models", choices=("monitor", "handheld"), default="monitor",
                   help="with --rhythm: the bundled VF models (default monitor; handheld: "
                   "fitted with hand-held recordings too, far fewer false VF calls on motion "
                   "artefact, a slightly later alarm; README, VT/VF section)")
    p.add_argument("--no-rhythm-context", dest="rhythm_context", action="store_false",
                   help="write the beat model's calls as they are; by default a beat the model "
                   "calls S inside atrial fibrillation/flutter the analyser has confirmed is "
                   "written N (EC57 counts no atrial ectopy in AF), and the beats of a "
                   "supraventricular run (an abrupt, steady rate of >= 100 bpm at <= 0.7 of the "
                   "sinus intervals before it) are written S, as the daemon reports them")
    add_common(p)
    p.set_defaults(func=cmd_annotate)
    return p
