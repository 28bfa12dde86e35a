"""Scoring against reference annotations: ``scoring`` (EC57 beat-by-beat matching) and
``compare`` (agreement summaries such as the demo's)."""
