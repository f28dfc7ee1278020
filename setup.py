"""Build hook: a wheel carries the pages' JavaScript (splatlib/web/vendor.py says which files)."""

import importlib.util
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
_spec = importlib.util.spec_from_file_location("splatlib_vendor", ROOT / "splatlib" / "web" / "vendor.py")
vendor = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(vendor)


class BuildPy(build_py):
    """build_py, then the viewer's and docs' JavaScript from node_modules into the built package."""

    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):  # an editable install serves the checkout's node_modules
            return
        copied = vendor.copy_vendor(ROOT / "node_modules", Path(self.build_lib) / "splatlib" / "web" / "vendor")
        print(f"splatlib: packaged the viewer's JavaScript ({copied / 1e6:.1f} MB)")


setup(cmdclass={"build_py": BuildPy})
