"""Gaussian splatting: model, rasterizer, losses, densification and the training loop."""
