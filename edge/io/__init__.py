"""Files: ``records`` (reading WFDB records and annotations, downloads) and ``wfdb_io``
(writing WFDB annotation files: beats and rhythm changes)."""
