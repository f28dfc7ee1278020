"""Every setting a user can choose, defined once: name, default, bounds or choices, help.

The CLI flags (`--name-with-dashes`), the web form, the API's option schema (`GET /api/options`)
and the validation of `PipelineOptions` are all made from `OPTIONS`; the stages take their
defaults from here. Bounds also protect the cloud: a request cannot hold a GPU for hours.
"""

from __future__ import annotations

from dataclasses import dataclass

MATCHINGS = ("auto", "sequential", "exhaustive")
SFM_FEATURES = ("auto", "fine", "coarse")
DEVICES = ("auto", "cpu", "cuda")


@dataclass(frozen=True)
class Option:
    name: str
    default: int | float | str | None
    help: str
    kind: type = int  # int, float or str
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] | None = None

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    @property
    def _noun(self) -> str:
        return "an integer" if self.kind is int else "a number"

    def check(self, value: object) -> None:
        """ValueError with a message a user understands when `value` is not allowed."""
        if value is None and self.default is None:
            return
        if self.choices is not None:
            if value not in self.choices:
                raise ValueError(f"{self.name} must be one of {', '.join(self.choices)}, not {value!r}")
            return
        kinds = (int,) if self.kind is int else (int, float)
        if isinstance(value, bool) or not isinstance(value, kinds) or not self.low <= value <= self.high:
            raise ValueError(f"{self.name} must be {self._noun} from {self.low:g} to {self.high:g}, not {value!r}")

    def parse(self, text: str) -> int | float | str:
        """A value typed in a form field, converted to this option's type (bounds are checked by `check`)."""
        if self.choices is not None:
            return text
        try:
            return self.kind(text)
        except ValueError:
            raise ValueError(f"{self.name} must be {self._noun}, not {text!r}") from None

    def describe(self) -> dict:
        """This option as JSON, for the API and the web form."""
        return {"name": self.name, "type": "string" if self.choices else ("integer" if self.kind is int else "number"),
                "default": self.default, "minimum": self.low, "maximum": self.high,
                "choices": list(self.choices) if self.choices else None, "help": self.help}


OPTIONS: tuple[Option, ...] = (
    Option("fps", 2.0, "frames per second taken from a video", float, 0.1, 30),
    Option("max_frames", 300, "most frames taken from a video", int, 3, 2000),
    # 1200 rather than 1600: SIFT from the 2× upsampled frame then works at 2400 px. Same run, each side
    # mapping anew (bench_quality.py --variant default: --variant s1200:sfm_max_size=1200, 2026-12-05):
    # fox as a video 293.8 → 252.1 s at 31.80 → 31.66 dB, as photos 301.4 → 248.1 s at 31.47 → 31.52 dB,
    # fountain_p11 101.7 → 92.9 s at 24.85 → 24.93 dB, as a video 98.7 → 95.2 s at 24.76 → 24.77 dB;
    # fountain_p11's camera centres within 0.041% of its ground truth's extent either way. Frames at
    # or under 1200 px (lund, sacre_coeur, the demo) are unchanged.
    Option("sfm_max_size", 1200, "long side of the frames, in pixels, for structure from motion "
           "(never upscaled)", int, 240, 4096),
    Option("matching", "auto", "COLMAP matching: auto takes sequential for video, exhaustive for up to 60 photos",
           str, choices=MATCHINGS),
    Option("sfm_features", "auto", "SIFT features: fine (more 3D points to start training from) or coarse "
           "(3x faster to extract, a sparser start that costs held-out quality); auto: fine", str,
           choices=SFM_FEATURES),
    Option("iterations", 2000, "training steps", int, 50, 30_000),
    Option("max_gaussians", 100_000,
           "most Gaussians; the budget is 3000 per training view (6000 on a GPU) within this cap",
           int, 1000, 3_000_000),
    Option("image_size", 512, "long side of the training images, in pixels", int, 64, 4096),
    Option("sh_degree", 3, "spherical-harmonics degree of the colours (0 = one colour per Gaussian)", int, 0, 3),
    Option("device", "auto", "training back end: cuda (gsplat) when a GPU and gsplat are there, else cpu",
           str, choices=DEVICES),
    Option("minutes", None, "time budget for the whole scene: training steps (and, if they would be too few, "
           "the image size) are planned from a measured step to finish in about this time", float, 0.5, 24 * 60),
)
BY_NAME = {o.name: o for o in OPTIONS}


def table(defaults) -> dict:
    """Every option as JSON (`GET /api/options`, the static gallery's options.json), with the defaults
    of `defaults` (a PipelineOptions: a server's own may differ from the table's)."""
    return {"options": [{**o.describe(), "default": getattr(defaults, o.name)} for o in OPTIONS]}


def default(name: str):
    """The default of one option (the stages' own option classes start from these)."""
    return BY_NAME[name].default
