"""The adapted classifier: a base :class:`~edge.model.classifier.BeatClassifier` with a wearer
head, behind the same interface.

:class:`AdaptedClassifier` has the base classifier's interface (``predict_proba``, ``classes``,
``window``, ``filters``, ``feature_config``, ``model_version``...), so the daemon and
:class:`~edge.pipeline.BeatPipeline` run it unchanged. It refuses a head made for another base
model, runs the head once on a zero beat at load, counts the beats new to the wearer, and warns
once when they become common (time to adapt again).
"""
from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np

from edge.dsp.features import FEATURE_NAMES
from edge.errors import AdaptedModelError, AdaptError, ModelError
from edge.model.adapt.headfile import WearerHead, model_sha256
from edge.model.bundled import MODELS_DIR
from edge.model.classifier import BeatClassifier

__all__ = ["AdaptedClassifier", "NEW_BEATS_WARN_SHARE", "NEW_BEATS_MIN"]

logger = logging.getLogger(__name__)

#: Warn (once) when more than this share of at least NEW_BEATS_MIN scored beats were new to the
#: wearer (on DS1 about 6 % of the scored beats lie beyond the templates' reach).
NEW_BEATS_WARN_SHARE = 0.25
NEW_BEATS_MIN = 500


class AdaptedClassifier:
    """A base :class:`BeatClassifier` with a wearer head: the same interface, adapted scores.

    Parameters
    ----------
    base : the loaded two-output base model.
    head : the wearer head; it must have been fitted on this very base model (same SHA-256).
    head_path : the head's file, named in errors (when it was read from one).

    Raises
    ------
    AdaptedModelError
        The head belongs to another base model, its inputs do not fit this one, or it cannot
        run on it.
    """

    def __init__(self, base: BeatClassifier, head: WearerHead, *,
                 head_path: str | os.PathLike | None = None) -> None:
        where = None if head_path is None else str(head_path)
        digest = model_sha256(base.path)
        # a model sealed after heads were adapted on it names the digest it had (convert/seal.py)
        if head.base_sha256 not in (digest, base.seal.sealed_from_sha256 or digest):
            raise AdaptedModelError(
                f"this adapted head was made for base model {head.base_file!r} "
                f"({head.base_model_version}, sha256 {head.base_sha256[:12]}...), not for "
                f"{base.path.name!r} ({base.model_version}, sha256 {digest[:12]}...): adapt "
                "again with this model or run with the model it was made for", where)
        if tuple(head.classes) != tuple(base.classes):
            raise AdaptedModelError(f"head classes {head.classes} differ from the model's "
                                    f"{base.classes}", where)
        if head.embedding_size and head.embedding_size != base.embedding_size:
            raise AdaptedModelError(f"head expects a {head.embedding_size}-value embedding, "
                                    f"the model gives {base.embedding_size}", where)
        self.base = base
        self.head = head
        self.classes = base.classes
        self.window = base.window
        self.filters = base.filters
        self.feature_config = base.feature_config
        self.contract = base.contract
        self.path = base.path
        self.quantized = base.quantized
        self.size_bytes = base.size_bytes
        self.embedding_size = base.embedding_size
        wearer = head.info.get("record") or "wearer"
        self.model_version = f"{base.model_version}+adapted({wearer})"
        self.n_beats = 0
        self.n_new = 0
        self._warned_new = False
        self._smoke_test(where)

    def _smoke_test(self, where: str | None) -> None:
        """Run base model and head once on a zero beat (not counted): a head that cannot run
        on this model is refused at load, not on the first beat."""
        beat = np.zeros((1, self.window.length, 2), dtype=np.float32)
        features = np.zeros((1, len(FEATURE_NAMES)), dtype=np.float32)
        try:
            q, _ = self._adapt(beat, features)
        except (ModelError, AdaptError, ValueError) as exc:
            raise AdaptedModelError(f"the head cannot run on {self.path.name} ("
                                    f"{' '.join(str(exc).split())})", where) from exc
        if not np.all(np.isfinite(q)):
            raise AdaptedModelError(f"the head gives non-finite probabilities on "
                                    f"{self.path.name}: the file is damaged", where)

    @classmethod
    def load(cls, adapted_path: str | os.PathLike, model_path: str | os.PathLike | None = None,
             *, num_threads: int = 1) -> "AdaptedClassifier":
        """Load a head and its base model (``model_path``, else the bundled model of the
        head's ``base_file`` name in ``edge/models``)."""
        head = WearerHead.load(adapted_path)
        if model_path is None:
            model_path = MODELS_DIR / Path(head.base_file).name
            if not model_path.is_file():
                raise AdaptedModelError(f"its base model {head.base_file!r} is not bundled "
                                        f"(in {MODELS_DIR}): pass the base model with --model",
                                        str(adapted_path))
        clf = cls(BeatClassifier(model_path, num_threads=num_threads), head,
                  head_path=adapted_path)
        logger.info("adapted head %s on %s: adapted %s, base kept for %s", Path(adapted_path).name,
                    clf.path.name, "".join(head.adapted), "".join(head.fallback) or "none")
        return clf

    def _adapt(self, beat: np.ndarray, features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Adapted probabilities and the new-to-the-wearer mask (nothing counted)."""
        if self.head.embedding_size:
            proba, emb = self.base.predict_with_embedding(beat, features)
        else:
            proba, emb = self.base.predict_proba(beat, features), None
        f_std = self.base.standardize_features(features)
        return self.head.apply_detail(proba, self.head.inputs(emb, f_std), features)

    def predict_proba(self, beat: np.ndarray, features: np.ndarray) -> np.ndarray:
        """Adapted class probabilities (float32, (n, 5)), same inputs as
        :meth:`BeatClassifier.predict_proba`."""
        q, new = self._adapt(beat, features)
        self.n_beats += len(q)
        self.n_new += int(new.sum())
        if (not self._warned_new and self.n_beats >= NEW_BEATS_MIN
                and self.n_new > NEW_BEATS_WARN_SHARE * self.n_beats):
            self._warned_new = True
            logger.warning("%d of %d beats (%.0f %%) look like nothing in the adaptation "
                           "recording of %s: the templates can judge only those on time; consider "
                           "adapting again on a recent labelled recording", self.n_new,
                           self.n_beats, 100.0 * self.n_new / self.n_beats,
                           self.head.info.get("record") or "this wearer")
        return q

    def adaptation_stats(self) -> dict:
        """Counters for the daemon's status event: beats scored, beats new to the wearer."""
        return {"beats": self.n_beats, "new_to_wearer": self.n_new,
                "adapted_classes": "".join(self.head.adapted)}

    def predict(self, beat: np.ndarray, features: np.ndarray) -> np.ndarray:
        """Class labels for a batch of beats."""
        p = self.predict_proba(beat, features)
        return np.asarray(self.classes, dtype=object)[np.argmax(p, axis=1)]
