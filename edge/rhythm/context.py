"""Rhythm-aware beat calls: the beat classifier's label, read in the rhythm the beat lies in.

The beat model judges a beat from its waveform and its RR intervals; in atrial fibrillation or
flutter every conducted beat comes early or late, so the model calls many of them ``S``
(supraventricular ectopic) for their timing alone. There is no atrial ectopic beat in AF:
ANSI/AAMI EC57 counts supraventricular beats in AF/flutter as ``N``. This post-stage applies
that rule:

* in the rhythm the analyser had **confirmed** when the beat left (``AF/AFL``), a beat the
  model calls ``S`` is reported ``N``;
* every other call stands: an ``S`` in sinus rhythm (a real APC) stays ``S``, and ``V``, ``F``
  and ``Q`` are never changed -- a ventricular beat in AF is still ventricular. Lowering ``V``
  in AF was measured on the design sets (MIT-BIH DS1, SVDB) and cost VEB sensitivity, so it is
  not done.

The rhythm is the *online* one (:attr:`edge.rhythm.RhythmResult.online`): what the device knows
as the beat leaves. The AF analyser confirms an episode after ``min_episode_s`` of AF, so the
first beats of an episode keep the model's call; ``ecg-edge annotate`` and the daemon apply the
same rule to the same state and so give the same labels. The model's probabilities are kept
unchanged (a beat event's ``proba`` still says what the model saw).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from edge.errors import SignalError
from edge.pipeline import ClassifiedBeats
from edge.rhythm.analyser import RHYTHM_AF, RhythmConfig, RhythmResult, analyse_beats
from edge.rhythm.model import TreeModel

__all__ = ["RHYTHM_CALLS", "beat_call", "beat_calls", "RhythmAwareBeats", "rhythm_aware"]

#: rhythm -> {model's call: reported call}; a call not listed stands.
RHYTHM_CALLS: dict[str, dict[str, str]] = {RHYTHM_AF: {"S": "N"}}


def beat_call(label: str, rhythm: str | None) -> str:
    """The reported call of one beat the model labelled ``label`` in the analyser rhythm
    ``rhythm`` (``None``/``""``: not decided yet, the call stands)."""
    return RHYTHM_CALLS.get(rhythm or "", {}).get(label, label)


def beat_calls(labels: np.ndarray, rhythm: np.ndarray) -> np.ndarray:
    """:func:`beat_call` over arrays of labels and per-beat rhythms (same length)."""
    lab = np.asarray(labels).astype(str)
    rh = np.asarray(rhythm).astype(str)
    if lab.shape != rh.shape:
        raise SignalError(f"labels and rhythm must have the same shape, got {lab.shape} and "
                          f"{rh.shape}")
    out = lab.astype(object)
    for name, calls in RHYTHM_CALLS.items():
        in_rhythm = rh == name
        for model_call, reported in calls.items():
            out[in_rhythm & (lab == model_call)] = reported
    return out.astype(str)


@dataclass(frozen=True)
class RhythmAwareBeats:
    """Beats with rhythm-aware labels, the analyser's result over them, and how many calls
    the rhythm changed."""

    beats: ClassifiedBeats
    rhythm: RhythmResult
    n_changed: int


def rhythm_aware(beats: ClassifiedBeats, fs_hz: float, *, config: RhythmConfig | None = None,
                 model: TreeModel | None = None) -> RhythmAwareBeats:
    """Run the AF analyser over a record's classified beats (input sample indices at
    ``fs_hz``) and return them with rhythm-aware labels (:func:`beat_calls` on the online
    rhythm)."""
    result = analyse_beats(beats.sample_index, fs_hz, beats.label, config=config, model=model)
    model_calls = np.asarray(beats.label).astype(str)
    calls = beat_calls(model_calls, result.online)
    n_changed = int(np.sum(calls != model_calls))
    out = dataclasses.replace(beats, label=calls.astype(object))
    return RhythmAwareBeats(out, result, n_changed)
