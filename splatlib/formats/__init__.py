"""File formats for Gaussian splats, independent of the pipeline."""

from .gaussians import Gaussians

__all__ = ["Gaussians"]
