"""Fixtures for the web tests: the events tests' factories."""

from tests.events.conftest import event_row, make_event, user_with_token  # noqa: F401
