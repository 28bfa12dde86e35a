"""Signal processing shared by the device and training: every stage streams with explicit state.

``resample``    :class:`StreamingResampler` (device rate -> processing rate)
``filters``     :class:`SosFilter`, :class:`EcgFilter` (baseline and mains removal)
``preprocess``  :class:`Preprocessor`: resample + filter + invalid-sample mask
``rpeak``       :class:`RPeakDetector`, the real-time R-peak detector
``detection``   :func:`detect_signal` (whole signal, chunk by chunk) and index conversions
``beats``       :class:`BeatWindower`, beat windows and RR intervals
``features``    :class:`BeatFeaturizer`: model inputs from windows and RR intervals
``inputs``      :func:`beat_inputs_at`: a whole signal + beat positions -> model inputs
``quality``     :class:`SignalQuality`: per-window signal quality
``rate``        rolling heart rate
``strip``       :class:`StripDecimator`: decimated ECG strips for the clinic
``medians``     np.median's values without its overhead, for per-beat hot paths
``buffer``      :class:`SampleBuffer`: growable look-back addressed by absolute sample index;
                :class:`SampleRows`: equally long streams that advance together, in one
``kernels``     scipy's compiled sosfilt and upfirdn loops, loaded without scipy.signal
``designs``     butter/iirnotch/tf2sos/firwin in numpy, bit-identical to scipy.signal's
``scisig``      the scipy.signal subset above as one namespace for the stages
"""
