"""Training the zoo (``lic train``, :mod:`lic_core.cli.train`): one module per idea, from
the objective and the data up to the trainer and the export; the map and the decisions
are in docs/training.md. Training runs in torch and float; nothing here is imported by
compress or decompress, nor by the zoo."""
