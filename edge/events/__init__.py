"""The events the daemon emits: ``model`` (dataclasses, JSON encoding) and ``decode`` (the
strict decoder every consumer uses)."""
