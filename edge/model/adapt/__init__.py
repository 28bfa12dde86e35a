"""Patient adaptation: a small per-wearer head on top of the int8 base model, fitted on the device.

The base model (a two-output full-int8 ``.tflite``, e.g. ``edge/models/default_embed.tflite``)
gives, for every beat, the class probabilities ``p`` and an int8 beat embedding ``e`` (the
members' ``head`` activations). From a labelled recording of the wearer (the first
:attr:`AdaptConfig.adapt_s` seconds; labels from any WFDB annotation file) :func:`fit_head` fits
a *residual* multinomial logistic regression::

    logits = log(p) + [z, 1] @ W,     z = standardise([e, standardised RR features])

with an L2 prior pulling ``W`` back to zero (zero = the base model), so with little data the
head *is* the base model. A class with fewer than :attr:`AdaptConfig.min_beats` labelled beats
is not adapted: its column of ``W`` stays zero and the file, the log and ``ecg-edge adapt`` say
so; a non-adapted V (:attr:`AdaptConfig.exact_fallback`) keeps exactly the base model's
probability under the head, so a head that never saw the wearer's PVCs cannot lower the V score
of the first ones (only the template vote below, which spares new ectopic beats, can).

On top, the window's labelled beats are kept as *wearer templates* (standardised head inputs, a
few hundred rows): each new beat's nearest templates vote on its V score, as a Holter analyser
matches beats to the templates a technician labelled, so a beat unlike the wearer's own PVCs
loses its V call (for a wearer whose window had no PVC none of the templates is V: a beat like
the wearer's own beats loses the base model's V call). A *novelty guard* keeps the vote away
from beats farther from every template than the templates are from each other (a morphology the
window never showed, e.g. a new ventricular focus) *when its timing is ectopic* (premature, or
followed by a pause): the head alone decides those. A new morphology on time -- in practice a
normal beat deformed by motion or muscle noise -- is still voted on. :class:`AdaptedClassifier`
counts the new beats (and warns once when they become common: time to adapt again). Everything
is numpy (+ ``scipy.optimize`` L-BFGS) and takes well under a second for five minutes of beats.

:class:`WearerHead` is the adapted model file (``.npz``, up to ~200 kB with its templates): the
weights, the templates, the standardisation, which classes are adapted or fell back, the label
counts, the configuration, and the SHA-256 and version of the base model it belongs to.
:class:`AdaptedClassifier` wraps the base :class:`~edge.model.classifier.BeatClassifier` with the
same interface (``predict_proba``, ``classes``, ``window``, ``filters``, ``feature_config``,
``model_version``...), so the daemon and :class:`~edge.pipeline.BeatPipeline` run it unchanged;
it refuses a head made for another base model.

Hyper-parameters (defaults of :class:`AdaptConfig`: ``weight_l2``, ``bias_l2``,
``class_balance``, ``min_beats``, ``class_min_beats`` (F needs 20 beats),
``max_fallback_gain`` (0: a non-adapted class never gains probability over the base model;
DS1 cannot tell 0 from no cap, so the tie-break fixed beforehand chose it), ``exact_fallback``
(V), the template vote (``template_k`` 15, ``template_weight`` 8, ``template_floor`` 0.5, on V
only, also when V is not adapted: ``template_vote_unadapted``) and its novelty
guard (``template_novelty`` 1.0, by a safety-first rule fixed in advance; its timing condition
``novel_ectopic_log`` 0.1, on DS1 with Noise Stress Test noise added)) were chosen on DS1
only, with the patient-specific protocol (first 5 minutes adapt, last 25 scored), using for
each DS1 record the ensemble member trained without that patient (the shipped ensemble saw
DS1); see ``benchmarks/bench_adapt.py --tune-ds1``.

One job per module::

    settings   AdaptConfig: the head's settings, validated
    residual   the residual head's arithmetic (inputs, log-probabilities, fallback caps)
    vote       the wearer templates: their vote, reach and the novelty guard's timing condition
    headfile   WearerHead: the fitted head, and its .npz file (damaged files refused clearly)
    fit        fit_head: the head from labelled beats (L-BFGS)
    recording  adapt_recording: a labelled recording in, a head out
    classifier AdaptedClassifier: the base classifier with a head, same interface
"""
from __future__ import annotations

from edge.model.adapt.classifier import AdaptedClassifier
from edge.model.adapt.fit import fit_head
from edge.model.adapt.headfile import ADAPTED_FORMAT, WearerHead, model_sha256
from edge.model.adapt.recording import AdaptResult, adapt_recording, beat_model_inputs
from edge.model.adapt.settings import AdaptConfig
from edge.model.adapt.vote import ectopic_timing

__all__ = ["AdaptConfig", "WearerHead", "AdaptResult", "AdaptedClassifier", "ADAPTED_FORMAT",
           "model_sha256", "beat_model_inputs", "fit_head", "adapt_recording", "ectopic_timing"]
