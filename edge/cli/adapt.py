"""``ecg-edge adapt``: fit a per-wearer head from a labelled recording (see
:mod:`edge.model.adapt`).

Usage::

    ecg-edge adapt --record WEARER_RECORD --labels atr --model edge/models/default_embed.tflite \\
        --out wearer.adapted.npz [--adapt-minutes 5] [--min-beats 5] [--channel N]

``--labels`` is the extension of a WFDB annotation file of the record (``atr``, or one written
by a clinician's review tool); MIT-BIH beat symbols are mapped to the AAMI classes, non-beat
annotations are ignored. The record may be at any sample rate (the pipeline resamples).

Wiring (in :func:`edge.cli.main.build_parser`)::

    from edge.cli.adapt import add_parser as _add_adapt
    _add_adapt(sub)
"""
from __future__ import annotations

import argparse
import logging
import time
from dataclasses import replace
from pathlib import Path

from edge.cli.common import (
    annotation_files,
    annotator,
    bounded_float,
    input_file_at,
    non_negative_int,
    output_dir,
    positive_int,
    read_channel,
    record_files,
)
from edge.io.files import write_atomically
from edge.model.bundled import default_embed_model_path

__all__ = ["add_parser", "cmd_adapt"]

logger = logging.getLogger(__name__)

#: Longest ``--adapt-minutes``: a week of labelled ECG (more than any Holter record holds).
MAX_ADAPT_MINUTES = 7 * 24 * 60.0

#: How an adapted model file (``.npz``, a zip archive) starts: an existing file like this
#: may be replaced by ``--out``, an annotation file of the record may not.
_ZIP_MAGIC = b"PK\x03\x04"


def _adapted_model(path: Path) -> bool:
    """``path`` is an adapted model file (a zip archive) or cannot be read: ``--out`` may
    replace it, unlike an annotation file of the record."""
    try:
        with open(path, "rb") as f:
            return f.read(4) == _ZIP_MAGIC
    except OSError:
        return True  # a folder or an unreadable file: nothing of the record's is at stake


def _check_out(out: Path, record: str, labels: str, data_dir: str | None) -> None:
    """Refuse (:class:`~edge.errors.EdgeError`), before any work, an ``--out`` that is one of
    the record's own files (its header, a signal file, the ``--labels`` annotation file, or
    any other existing ``<record>.<annotator>`` beside it that is not an adapted model), a
    folder, or a file or folder that cannot be written."""
    import argparse  # noqa: PLC0415
    import os  # noqa: PLC0415

    from edge.errors import EdgeError  # noqa: PLC0415
    from edge.io.records import resolve_record  # noqa: PLC0415

    src = resolve_record(record, data_dir=data_dir)
    hit = input_file_at(out, record_files(src)
                        + [(Path(f"{src}.{labels}"), "the --labels annotation file")]
                        + annotation_files(src, _adapted_model))
    if hit is not None:
        raise EdgeError(f"--out {out} is {hit[0]}, {hit[1]} (record {src.name}): not "
                        f"overwritten; choose another --out (e.g. {src.name}.adapted.npz)")
    if out.is_dir():
        raise EdgeError(f"--out {out}: a folder, not a file (give a file path, e.g. "
                        f"{out / (src.name + '.adapted.npz')})")
    try:  # the folder's checks are --out-dir's
        output_dir(str(out.parent))
    except argparse.ArgumentTypeError as exc:
        raise EdgeError(f"--out {out}: {exc}") from None
    if out.exists() and not os.access(out, os.W_OK):
        raise EdgeError(f"--out {out}: the file is read-only; not overwritten")


def cmd_adapt(args: argparse.Namespace) -> int:
    """Handler of ``ecg-edge adapt``: prints a summary (adapted classes, fallbacks, timing)."""
    from edge.errors import EdgeError
    from edge.io.records import check_annotation_rate, read_annotations
    from edge.model.adapt import AdaptConfig, adapt_recording
    from edge.model.classifier import BeatClassifier

    t0 = time.process_time()
    _check_out(args.out, args.record, args.labels, args.data_dir)
    kept = AdaptConfig().max_templates
    if args.templates is not None and not 0 <= args.templates <= kept:
        raise EdgeError(f"--templates {args.templates}: must be 0 (off) to {kept}, the "
                        f"labelled beats kept as templates")
    config = replace(AdaptConfig(), adapt_s=60.0 * args.adapt_minutes,
                     **({"min_beats": args.min_beats} if args.min_beats is not None else {}),
                     **({"template_k": args.templates} if args.templates is not None else {}),
                     **({"template_novelty": args.template_novelty}
                        if args.template_novelty is not _DEFAULT else {}),
                     **({"novel_ectopic_log": args.novel_ectopic}
                        if args.novel_ectopic is not _DEFAULT else {}))
    clf = BeatClassifier(args.model or default_embed_model_path(), num_threads=1)
    rec, _ = read_channel(args.record, args.channel, args.data_dir, lead=clf.contract.lead)
    ann = read_annotations(args.record, args.labels, data_dir=args.data_dir)
    check_annotation_rate(ann, rec.fs_hz, f"--labels {args.labels}")
    n = min(rec.n_samples, int(round((config.adapt_s + 5.0) * rec.fs_hz)))
    res = adapt_recording(clf, rec.signal_mv[:n, 0], rec.fs_hz, ann.sample_index,
                          ann.symbol, config, name=rec.name)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(args.out, res.head.save)  # whole or not at all, the old file kept
    path = args.out
    cpu = time.process_time() - t0
    h = res.head
    record_s = rec.n_samples / rec.fs_hz
    record_min = record_s / 60.0
    if config.adapt_s >= record_s:  # the whole record (shorter than asked)
        logger.warning("%s is %.1f min long, shorter than --adapt-minutes %g: every labelled "
                       "beat was used, so no beat of this record is left to test the adapted "
                       "model on", rec.name, record_min, args.adapt_minutes)
        span = f"the whole record, {record_min:.1f} min (--adapt-minutes {args.adapt_minutes:g})"
    else:
        span = f"the first {args.adapt_minutes:g} of {record_min:.1f} min"
    print(f"{rec.name}: adapted on {span} ({res.n_labelled} labelled beats, {rec.fs_hz:g} Hz) "
          f"with {clf.path.name} ({h.base_model_version})")
    print("  beats per class: " + ", ".join(f"{c} {h.counts[c]}" for c in h.classes))
    print(f"  adapted classes: {', '.join(h.adapted)}")
    if h.templates is not None:
        voted = h.voted_classes
        unseen = [c for c in voted if c not in h.adapted]
        print(f"  wearer templates: {len(h.template_labels)} labelled beats; the "
              f"{config.template_k} nearest vote on " + (", ".join(voted) if voted else
                                                         "no class (none of "
                                                         f"{''.join(config.template_classes)}"
                                                         " adapted)")
              + (f" ({', '.join(unseen)} not in the window: a beat like the wearer's own "
                 "loses that call)" if unseen else ""))
        if voted and config.template_novelty is not None:
            spared = ("with ectopic timing (premature or before a pause, "
                      f"{config.novel_ectopic_log:g} log ratio)"
                      if config.novel_ectopic_log is not None else "whatever their timing")
            print(f"  novelty guard: beats unlike every template are spared the vote {spared}")
    for c, why in h.fallback.items():
        print(f"  fallback {c}: {why}")
    dis = h.info.get("confident_disagreement", 0.0)
    if dis > config.max_disagreement:
        print(f"  warning: {100 * dis:.0f} % of the labelled beats disagree with a confident "
              "base model: check the annotations (mislabelled or shifted?)")
    print(f"  -> {path} ({path.stat().st_size} bytes) [{cpu:.2f} CPU s]")
    return 0


_DEFAULT = object()  # option not given: keep AdaptConfig's default


def _novelty(text: str):
    if text.lower() in ("off", "none"):
        return None
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a number > 0 or 'off', got {text!r}")
    return value


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Add the ``adapt`` sub-command to ``ecg-edge``'s sub-parsers."""
    p = subparsers.add_parser("adapt", help="fit a per-wearer head from a labelled recording "
                              "(patient adaptation); run it with `ecg-edge run --adapted FILE`")
    p.add_argument("--record", required=True, help="the wearer's WFDB record (name in "
                   "--data-dir / $MITDB_DIR, or a path); any sample rate")
    p.add_argument("--labels", required=True, metavar="EXT", type=annotator,
                   help="extension of the WFDB annotation file with the beat labels (e.g. atr)")
    p.add_argument("--model", default=None, type=Path,
                   help="two-output int8 model (default: the bundled default_embed.tflite)")
    p.add_argument("--out", required=True, type=Path, help="adapted model file to write (.npz)")
    p.add_argument("--adapt-minutes", type=bounded_float(MAX_ADAPT_MINUTES, "minutes"),
                   default=5.0, help="labelled minutes at the start of the record to adapt on "
                   f"(default 5; at most {MAX_ADAPT_MINUTES:g}, a week)")
    p.add_argument("--min-beats", type=positive_int, default=None,
                   help="beats a class needs to be adapted (default 5; fusion beats F need 20 "
                        "whatever it is); fewer: base model kept")
    p.add_argument("--templates", type=int, default=None, metavar="K",
                   help="wearer-template vote: the K nearest labelled beats vote on a beat's "
                   "V score (default 15; 0 = off, linear head only)")
    p.add_argument("--template-novelty", type=_novelty, default=_DEFAULT, metavar="X|off",
                   help="a beat farther than X times the templates' own nearest-neighbour "
                   "spread from every template is new to the wearer and not vetoed (default "
                   "1.0; 'off' = always vote: a new PVC morphology can be suppressed)")
    p.add_argument("--novel-ectopic", type=_novelty, default=_DEFAULT, metavar="X|off",
                   help="the novelty guard spares only new beats with ectopic timing: RR "
                   "shorter than the local or long-term mean by more than X (natural log), or "
                   "followed by a pause longer by more than X (default 0.1; 'off' = spare every "
                   "new beat, more false V from noise-deformed normal beats)")
    p.add_argument("--channel", type=non_negative_int, default=None,
                   help="signal channel (default: the one named as the model's lead, MLII, or "
                        "a lead II; else 0)")
    p.add_argument("--data-dir", default=None, help="record directory (default $MITDB_DIR)")
    p.add_argument("-v", "--verbose", action="count", default=0, help="more logging")
    p.set_defaults(func=cmd_adapt)
    return p
