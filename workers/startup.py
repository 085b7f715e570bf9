"""What the long-running processes of the app image do once they have made their app, before they start working."""

from __future__ import annotations

import logging
import os

from flask import Flask

from mutiroes.commands import DatabaseNotReady
from mutiroes.commands import wait_for_database as wait


def wait_for_database(app: Flask, log: logging.Logger) -> None:
    """With ``MUTIROES_WAIT_SECONDS`` set (the app image's entrypoint sets it), wait until the database answers at
    the migrations' head, with the app this process has already made: a separate ``mutiroes wait-for-database``
    would import the whole app once more before the process starts, and a new replica would take that much longer
    to take traffic. After that many seconds the process exits with status 1 and says why."""
    seconds = os.environ.get("MUTIROES_WAIT_SECONDS")
    if seconds:
        try:
            log.info(wait(app, migrated=True, timeout=float(seconds)))
        except DatabaseNotReady as exc:
            raise SystemExit(str(exc)) from exc
