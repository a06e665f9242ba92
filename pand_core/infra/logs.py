"""Logging controls: keeping dependencies' expected log messages out of a run's output."""

from __future__ import annotations

import logging


class quiet_root_logger:
    """Silence the root logger below ERROR inside the block (open_clip logs "no pretrained weights" at WARNING
    when the project builds its own small models on purpose)."""

    def __enter__(self) -> "quiet_root_logger":
        self._logger = logging.getLogger()
        self._level = self._logger.level
        self._logger.setLevel(logging.ERROR)
        return self

    def __exit__(self, *exc: object) -> bool:
        self._logger.setLevel(self._level)
        return False
