"""Data: benchmark readers (``mattekit.data.datasets``, samples read lazily by name) and training-data tools."""
