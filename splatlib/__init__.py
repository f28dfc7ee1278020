"""Splat Library: phone video or photos in, a 3D Gaussian Splatting scene out."""

from . import heap, threads

threads.configure()  # before anything imports torch or numba: every entry point (CLI, server, Lambda, Batch)
heap.keep_freed_blocks()

__version__ = "0.1.0"
