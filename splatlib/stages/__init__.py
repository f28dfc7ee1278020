"""Pipeline stages: each one a plain function over local folders.

Stages never import the library, the web app, the CLI or the AWS adapters.
"""

from typing import Callable

Progress = Callable[[float, str], None]
"""Progress callback: fraction done in [0, 1] and a short message."""


def no_progress(fraction: float, message: str) -> None:
    """A Progress callback that ignores what it is told."""
