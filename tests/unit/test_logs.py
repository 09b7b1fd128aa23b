"""One logging configuration: the level and the format switch every logger shadow runs with."""

from __future__ import annotations

import json
import logging

import pytest

from shadow.logs import configure, logging_config


def _emit() -> None:
    logging.getLogger("shadow.serve.service").info("cycle: listed 3", extra={"listed": 3})
    logging.getLogger("shadow.engine").warning("could not store")
    logging.getLogger("uvicorn.error").info("Uvicorn running")
    logging.getLogger("apscheduler.executors.default").info('Running job "cycle"')
    logging.getLogger("botocore.endpoint").debug("Making request with Authorization: AKIA...")


def test_text_at_info_shows_shadow_and_uvicorn_but_no_scheduler_chatter(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure("INFO", "text")
    _emit()
    err = capsys.readouterr().err
    assert " INFO shadow.serve.service: cycle: listed 3" in err
    assert " WARNING shadow.engine: could not store" in err
    assert " INFO uvicorn.error: Uvicorn running" in err
    assert "Running job" not in err


def test_json_lines_carry_extra_fields(capsys: pytest.CaptureFixture[str]) -> None:
    configure("INFO", "json")
    _emit()
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    first = lines[0]
    assert "cycle: listed 3" == first["message"]
    assert ("INFO", "shadow.serve.service", 3) == (first["level"], first["logger"], first["listed"])
    assert first["time"].endswith("+00:00")
    assert ["shadow.serve.service", "shadow.engine", "uvicorn.error"] == [
        line["logger"] for line in lines
    ]


def test_the_level_switch_and_debug_keeps_credentials_out(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure("warning", "text")
    _emit()
    err = capsys.readouterr().err
    assert "could not store" in err and "cycle:" not in err and "Uvicorn" not in err
    configure("DEBUG", "text")
    _emit()
    err = capsys.readouterr().err
    assert 'Running job "cycle"' in err  # the scheduler speaks when asked for everything
    assert "AKIA" not in err  # botocore's request lines never: they carry the access key id


def test_an_unknown_level_is_refused() -> None:
    with pytest.raises(ValueError, match="VERBOSE"):
        logging_config("verbose", "text")
