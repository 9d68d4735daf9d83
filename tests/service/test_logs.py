"""Structured logs: one JSON object per line with the standard fields and any extras."""

from __future__ import annotations

import json
import logging

from service.logs import JsonFormatter, log_config


def test_json_lines_carry_level_logger_message_and_extras() -> None:
    record = logging.makeLogRecord(
        {
            "name": "service.jobs",
            "levelno": logging.WARNING,
            "levelname": "WARNING",
            "msg": "job %s failed",
            "args": ("abc",),
            "job": "abc",
        }
    )
    entry = json.loads(JsonFormatter().format(record))
    assert entry["level"] == "warning" and entry["logger"] == "service.jobs"
    assert entry["message"] == "job abc failed" and entry["job"] == "abc" and "time" in entry
    assert log_config("json", "INFO")["formatters"]["default"]["()"].endswith("JsonFormatter")
