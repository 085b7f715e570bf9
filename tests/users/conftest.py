"""Fixtures of the users tests: the account emails go through the real SMTP sink and burst RQ workers (tests/jobs);
the events and participations an account holds come from the events and impact factories."""

from __future__ import annotations

from tests.events.conftest import make_event  # noqa: F401
from tests.impact.conftest import join  # noqa: F401
from tests.jobs.conftest import (  # noqa: F401
    _empty_redis_after_test,
    jobs_app,
    jobs_client,
    sink,
    smtp_sink,
    work,
)
