"""Application entry points: the ``arag`` command line and the bundled sample corpus."""
