"""Data: readers for the matting benchmarks (``mattekit.data.datasets``), one sample at a time, read lazily."""
