"""Synthetic data engine: bodies, poses, cameras, rendering, occluders, writers."""
