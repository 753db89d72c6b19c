"""Data: the sample structure, the synthetic engine, dataset readers and transforms."""
