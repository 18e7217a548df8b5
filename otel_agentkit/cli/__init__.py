"""The ``agentkit`` command: a thin layer over the package's Python APIs."""
