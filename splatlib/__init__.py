"""Splat Library: phone video or photos in, a 3D Gaussian Splatting scene out."""

__version__ = "0.1.0"
