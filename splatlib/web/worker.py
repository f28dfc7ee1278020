"""Background workers that run queued scenes for the web app."""

from __future__ import annotations

import logging
import threading
from typing import Callable

from ..errors import DiskFull, LeaseLost, SceneNotFound
from ..pipeline import Pipeline

log = logging.getLogger(__name__)


class Workers:
    """`concurrency` threads, each claiming and running one scene at a time."""

    def __init__(self, make_pipeline: Callable[[], Pipeline], concurrency: int = 1, poll_seconds: float = 1.0):
        self.make_pipeline = make_pipeline
        self.concurrency = concurrency
        self.poll_seconds = poll_seconds
        self.stop = threading.Event()
        self.wake = threading.Event()
        self.threads: list[threading.Thread] = []

    def start(self) -> None:
        for i in range(self.concurrency):
            thread = threading.Thread(target=self._loop, name=f"splatlib-worker-{i}", daemon=True)
            thread.start()
            self.threads.append(thread)

    def notify(self) -> None:
        """Wake the workers now (a scene was queued)."""
        self.wake.set()

    def shutdown(self, timeout: float = 5.0) -> None:
        """Ask the workers to stop after their current scene; a scene still running is resumed
        by the next server (its lease lapses)."""
        self.stop.set()
        self.wake.set()
        for thread in self.threads:
            thread.join(timeout)

    def _loop(self) -> None:
        pipeline = self.make_pipeline()
        while not self.stop.is_set():
            try:
                ran = pipeline.run_next()
            except (LeaseLost, SceneNotFound, DiskFull) as exc:  # taken over after a pause, deleted while it ran, no room
                log.warning("%s", exc)
                ran = None
            except Exception:  # keep the worker alive; the scene itself records stage failures
                log.exception("worker error")
                ran = None
            if ran is None:
                self.wake.wait(self.poll_seconds)
                self.wake.clear()
