"""Logs: JSON lines outside the embedded mode, a request id on every request, in its answer and its log lines."""

from __future__ import annotations

import datetime as dt
import enum
import io
import json
import logging
import os
import re

import pytest

from mutiroes import create_app
from mutiroes.config import Config, ConfigError
from mutiroes.platform import logs
from mutiroes.web.request_id import incoming_or_new
from tests.conftest import bearer

NEW_REQUEST_ID = re.compile(r"[0-9a-f]{32}")
CATEGORIES = "/api/events/categories/"


def access_lines(log_lines) -> list[dict]:
    return [line for line in log_lines() if line["logger"] == "mutiroes.access"]


def test_log_format_is_console_in_the_embedded_mode_and_json_otherwise(tmp_path):
    embedded = Config.from_env({}, instance_path=str(tmp_path))
    deployed = Config.from_env({"MUTIROES_DATABASE_URL": "postgresql://db/x", "MUTIROES_SECRET_KEY": "k" * 48})
    chosen = Config.from_env({"MUTIROES_LOG_FORMAT": "JSON"}, instance_path=str(tmp_path))
    assert (embedded.log_format, deployed.log_format, chosen.log_format) == ("console", "json", "json")
    with pytest.raises(ConfigError, match="MUTIROES_LOG_FORMAT"):
        Config.from_env({"MUTIROES_LOG_FORMAT": "xml"}, instance_path=str(tmp_path))


def test_a_request_with_an_x_request_id_answers_with_it(client):
    response = client.get(CATEGORIES, headers={"X-Request-Id": "abc123"})
    assert response.status_code == 200
    assert response.headers["X-Request-Id"] == "abc123"


def test_a_request_without_one_gets_a_new_one_each_time(client):
    first = client.get(CATEGORIES).headers["X-Request-Id"]
    second = client.get(CATEGORIES).headers["X-Request-Id"]
    assert NEW_REQUEST_ID.fullmatch(first) and NEW_REQUEST_ID.fullmatch(second)
    assert first != second


@pytest.mark.parametrize("sent", ["a" * 65, "abc 123", "abc;rm", "<script>", "ação", "", "x/y"])
def test_a_request_id_too_long_or_with_odd_characters_is_replaced(client, sent):
    answered = client.get(CATEGORIES, headers={"X-Request-Id": sent}).headers["X-Request-Id"]
    assert NEW_REQUEST_ID.fullmatch(answered)


def test_a_request_id_of_64_letters_digits_dots_dashes_and_underscores_is_kept():
    longest = "Az09._-" * 9 + "x"
    assert len(longest) == 64
    assert incoming_or_new(longest) == longest


def test_404_and_405_answer_with_the_request_id_too(client):
    missing = client.get("/api/nao-existe/", headers={"X-Request-Id": "perdido-1"})
    wrong_method = client.delete("/api/users/register/", headers={"X-Request-Id": "metodo-2"})
    assert (missing.status_code, wrong_method.status_code) == (404, 405)
    assert missing.headers["X-Request-Id"] == "perdido-1"
    assert wrong_method.headers["X-Request-Id"] == "metodo-2"


def test_a_500_answers_with_the_request_id_and_its_error_line_carries_it(make_config, log_lines):
    app = create_app(make_config())

    @app.route("/api/_explode/")
    def explode():
        raise RuntimeError("boom")

    response = app.test_client().get("/api/_explode/", headers={"X-Request-Id": "explode-1"})
    assert response.status_code == 500
    assert response.headers["X-Request-Id"] == "explode-1"
    [error] = [line for line in log_lines() if line["level"] == "ERROR"]
    assert error["request_id"] == "explode-1"
    assert error["message"] == "unhandled error on GET /api/_explode/"
    assert "RuntimeError: boom" in error["exc_info"]
    [access] = access_lines(log_lines)
    assert (access["status"], access["request_id"]) == (500, "explode-1")


def test_the_access_line_is_json_with_route_status_duration_and_the_callers_id(client, make_user, login, log_lines):
    user = make_user()
    headers = {**bearer(login(user)), "X-Request-Id": "abc123"}
    assert client.get("/api/users/profile/", headers=headers).status_code == 200

    line = access_lines(log_lines)[-1]
    assert set(line) >= {"timestamp", "level", "logger", "message", "request_id", "replica"}
    assert line["level"] == "INFO"
    assert line["message"] == f"GET /api/users/profile/ 200 in {line['duration_ms']:.1f} ms"
    assert line["request_id"] == "abc123"
    assert line["method"] == "GET"
    assert line["route"] == "/api/users/profile/"
    assert line["status"] == 200
    assert isinstance(line["duration_ms"], float) and line["duration_ms"] >= 0
    assert line["user_id"] == user["id"]
    assert re.fullmatch(r".+:\d+", line["replica"])  # hostname:pid
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", line["timestamp"])


def test_the_access_line_of_an_anonymous_unrouted_request_has_no_user_and_no_route(client, log_lines):
    client.get("/api/nao-existe/", headers={"X-Request-Id": "perdido-3"})
    [line] = access_lines(log_lines)
    assert (line["status"], line["route"], line["user_id"], line["path"]) == (404, None, None, "/api/nao-existe/")
    assert line["request_id"] == "perdido-3"


def test_the_route_is_the_rule_not_the_path(client, log_lines):
    client.get("/api/events/999999/", headers={"X-Request-Id": "rota-4"})
    [line] = access_lines(log_lines)
    assert line["route"] == "/api/events/<id:event_id>/"
    assert line["path"] == "/api/events/999999/"


def test_probes_are_logged_at_debug_only(client, log_lines):
    client.get("/readiness/")
    client.get("/liveness/")
    assert access_lines(log_lines) == []


def test_no_request_id_outside_a_request_and_the_replica_is_configurable():
    assert logs.current_request_id() is None
    assert logs.replica_id("api-7") == "api-7"
    with logs.request_id_bound("dentro"):
        assert logs.current_request_id() == "dentro"
    assert logs.current_request_id() is None


class Kind(enum.Enum):
    CLEANUP = "cleanup"


class Unprintable:
    def __str__(self) -> str:
        raise RuntimeError("no text")


def test_a_json_line_writes_dates_in_iso_8601_and_other_objects_as_text_and_keeps_the_traceback():
    stream = io.StringIO()
    logger = logging.getLogger("mutiroes.tests.json")
    logger.propagate = False
    logger.handlers[:] = [logs.handler("json", "api-9", stream=stream)]
    try:
        when = dt.datetime(2026, 12, 3, 14, 5, 6, tzinfo=dt.UTC)
        try:
            raise ValueError("ruim")
        except ValueError:
            logger.exception(
                "falhou %s",
                "aqui",
                extra={
                    "when": when,
                    "day": when.date(),
                    "thing": object(),
                    "kind": Kind.CLEANUP,
                    "broken": Unprintable(),
                    "error": KeyError("x"),
                    "level": "not the record's",
                },
            )
    finally:
        logger.handlers.clear()
    [line] = [json.loads(text) for text in stream.getvalue().splitlines()]
    assert (line["message"], line["level"], line["replica"], line["logger"]) == (
        "falhou aqui",
        "ERROR",
        "api-9",
        "mutiroes.tests.json",
    )
    assert (line["when"], line["day"]) == ("2026-12-03T14:05:06+00:00", "2026-12-03")
    assert line["thing"].startswith("<object object at ")
    assert (line["kind"], line["error"], line["level"]) == ("cleanup", "KeyError: 'x'", "ERROR")
    assert line["broken"].startswith("<tests.test_logs.Unprintable object at ")
    assert line["exc_info"].startswith("Traceback") and "ValueError: ruim" in line["exc_info"]
    assert not {"args", "msg", "created", "exc_text", "lineno"} & set(line)


def test_each_forked_process_names_its_own_pid_as_the_default_replica():
    parent = logs.replica_id()
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - runs in the child
        os.write(write, logs.replica_id().encode())
        os._exit(0)
    os.close(write)
    os.waitpid(child, 0)
    with os.fdopen(read) as pipe:
        named = pipe.read()
    assert parent.endswith(f":{os.getpid()}")
    assert named.endswith(f":{child}") and named.split(":")[0] == parent.split(":")[0]
