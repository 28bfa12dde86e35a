"""The beat classifier on the device (LiteRT, never TensorFlow).

``bundled``      paths of the shipped models and the demo excerpt
``tflite_meta``  the preprocessing contract embedded in a ``.tflite``
``classifier``   :class:`BeatClassifier`: loads, checks and runs an int8 model
``adapt``        per-wearer adaptation (head, templates, :class:`AdaptedClassifier`)
"""
