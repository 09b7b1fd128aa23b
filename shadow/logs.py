"""The one logging configuration for shadow, uvicorn and APScheduler (`logging.config.dictConfig`).

Every record goes to one handler on the root logger, on stderr, as text or as one JSON object a
line (`SHADOW_LOG_FORMAT=json`, python-json-logger's `JsonFormatter`), at `SHADOW_LOG_LEVEL`.
uvicorn is started with `log_config=None`, so its loggers propagate here instead of installing
their own format. APScheduler's executors log two INFO lines per job run ("Running job",
"executed successfully"); shadow writes its own summary line per cycle, so they are held at
WARNING unless the level is DEBUG. botocore and aiobotocore are held at WARNING at any level:
their DEBUG lines carry request headers, the access key id among them, and credentials never
reach a log.
"""

from __future__ import annotations

import logging
import logging.config
import sys
from typing import Any, Literal, TextIO

from pythonjsonlogger.core import RESERVED_ATTRS

LogFormat = Literal["text", "json"]
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# The JSON keys: time (ISO 8601, UTC), level, logger, message, then any `extra=` fields.
JSON_FIELDS = ["levelname", "name", "message"]
JSON_RENAMES = {"levelname": "level", "name": "logger"}
# uvicorn adds `color_message`, its message with ANSI colour codes: not for a JSON log.
JSON_SKIPPED = [*RESERVED_ATTRS, "color_message"]

# Loggers that never log below WARNING, and why (see the module docstring).
_QUIET_ALWAYS = ("botocore", "aiobotocore", "urllib3", "s3transfer")
_QUIET_UNLESS_DEBUG = ("apscheduler",)


class StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """A StreamHandler on whatever `sys.stderr` is when a record is written, not when the
    handler was made, so a replaced stderr (pytest's capture, a redirect) is honoured."""

    def __init__(self) -> None:
        super().__init__()

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _value: TextIO) -> None:
        pass  # StreamHandler.__init__ assigns one; the property always answers sys.stderr


def logging_config(level: str = "INFO", fmt: LogFormat = "text") -> dict[str, Any]:
    """The dictConfig document for a level and a format (pure: a test reads it)."""
    level = level.upper()
    if level not in LEVELS:
        raise ValueError(f"log level {level!r} is not one of {', '.join(LEVELS)}")
    quiet = {name: {"level": "WARNING"} for name in _QUIET_ALWAYS}
    chatty = "DEBUG" if level == "DEBUG" else "WARNING"
    quiet |= {name: {"level": chatty} for name in _QUIET_UNLESS_DEBUG}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "text": {"format": TEXT_FORMAT},
            "json": {
                "()": "pythonjsonlogger.json.JsonFormatter",
                "fmt": JSON_FIELDS,
                "rename_fields": JSON_RENAMES,
                "reserved_attrs": JSON_SKIPPED,
                "timestamp": "time",
            },
        },
        "handlers": {"stderr": {"()": StderrHandler, "formatter": fmt}},
        "root": {"level": level, "handlers": ["stderr"]},
        "loggers": {
            # uvicorn's loggers lose the handlers its own config would add and propagate here.
            "uvicorn": {"level": level, "handlers": [], "propagate": True},
            "uvicorn.error": {"level": level, "handlers": [], "propagate": True},
            "uvicorn.access": {"level": level, "handlers": [], "propagate": True},
            **quiet,
        },
    }


def configure(level: str = "INFO", fmt: LogFormat = "text") -> None:
    logging.config.dictConfig(logging_config(level, fmt))
