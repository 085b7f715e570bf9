"""Logging of every process (API replicas, workers, scheduler)."""

from __future__ import annotations

import logging

from mutiroes.config import Config


def configure(config: Config) -> None:
    logging.basicConfig(level=config.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
