"""The ``mgops`` command line: one module per command group."""
