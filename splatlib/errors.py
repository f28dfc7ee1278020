"""Errors a user can cause, with messages written for that user.

Anything else raised inside the pipeline is a bug: the runner logs its traceback and
stores a short readable message naming the stage.
"""


class SplatError(Exception):
    """Base class for errors whose message is meant for the user."""


class InputError(SplatError):
    """The input (video, photos, file) cannot be used."""


class ConfigError(SplatError):
    """A setting cannot be honoured on this machine (a GPU asked for where there is none)."""


class ReconstructionError(SplatError):
    """Structure from motion could not place enough frames."""


class FormatError(SplatError):
    """A file is not in the expected format or lacks required fields."""


class SceneNotFound(SplatError):
    """No scene with that id exists in the library."""


class SceneBusy(SplatError):
    """The scene is being processed by a live process."""


class LeaseLost(SplatError):
    """Another process took the scene over (this one was paused past its lease); this one stops
    without writing the scene's state or outputs."""


class DiskFull(SplatError):
    """The disk holding the library has no room for what is being written; nothing partial is kept."""
