"""The beat classifier on the device (LiteRT, never TensorFlow).

``bundled``      paths of the shipped models and the demo excerpt
``tflite_meta``  reads the named metadata (the contract JSON) of a ``.tflite`` file
``contract``     :class:`ModelContract`: the preprocessing contract, typed and validated, and
                 its agreement check with the pipeline
``interpreter``  which TFLite runtime, and creating an interpreter without its INFO chatter
``classifier``   :class:`BeatClassifier`: loads, checks, test-runs and runs an int8 model
``adapt/``       per-wearer adaptation: settings, residual head, template vote, head file,
                 fitting, recording driver, :class:`AdaptedClassifier`
"""
