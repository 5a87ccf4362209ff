"""uvicorn's own log lines pass the masking handler, whoever configured uvicorn first."""

from __future__ import annotations

import io
import json
import logging
import logging.config
from collections.abc import Iterator

import pytest
from uvicorn.config import LOGGING_CONFIG

from retell_booking_tools.ops.logs import UVICORN_LOGGERS, configure_logging, mask_path


@pytest.fixture(name="restore_logging")
def fixture_restore_logging() -> Iterator[None]:
    """Put the root and uvicorn loggers back as they were."""
    root = logging.getLogger()
    saved = [(name, logging.getLogger(name)) for name in ("", *UVICORN_LOGGERS)]
    state = [(lg, list(lg.handlers), lg.propagate, lg.level, lg.disabled) for _, lg in saved]
    for _, lg in saved[1:]:
        # Other tests may have run uvicorn with a quieter --log-level in this process.
        lg.setLevel(logging.NOTSET)
        lg.disabled = False
    yield
    for lg, handlers, propagate, level, disabled in state:
        lg.handlers[:] = handlers
        lg.propagate = propagate
        lg.setLevel(level)
        lg.disabled = disabled
    assert root is logging.getLogger()


@pytest.mark.usefixtures("restore_logging")
class TestUvicornLines:
    """Lines of uvicorn's loggers come out as masked JSON."""

    def test_access_line_after_uvicorns_own_config_is_masked_json(self) -> None:
        """uvicorn's default handlers are replaced: the access path loses number and email."""
        logging.config.dictConfig(LOGGING_CONFIG)
        stream = io.StringIO()
        configure_logging("json", stream=stream)

        logging.getLogger("uvicorn.access").info(
            '%s - "%s %s HTTP/%s" %d',
            "127.0.0.1:5000",
            "GET",
            "/book/015112345678?email=max%40example.com&phone=%2B4915112345678",
            "1.1",
            404,
        )

        entry = json.loads(stream.getvalue())
        assert entry["logger"] == "uvicorn.access"
        assert "5112345678" not in entry["message"]
        assert "example.com" not in entry["message"]
        assert "404" in entry["message"]

    def test_exception_in_asgi_application_traceback_is_masked(self) -> None:
        """The traceback uvicorn logs for a failing app is masked like a message."""
        stream = io.StringIO()
        configure_logging("json", stream=stream, secrets=["cal_live_topsecret"])
        try:
            raise RuntimeError("caller +4915112345678 with key cal_live_topsecret")
        except RuntimeError as exc:
            logging.getLogger("uvicorn.error").error(
                "Exception in ASGI application\n", exc_info=exc
            )

        entry = json.loads(stream.getvalue())
        assert "Traceback" in entry["exception"]
        assert "4915112345678" not in entry["exception"]
        assert "cal_live_topsecret" not in entry["exception"]


class TestMaskPath:
    """Paths and query strings are masked like messages, and bare digit runs too."""

    @pytest.mark.parametrize(
        "path",
        [
            "/x/+4915112345678",
            "/x?phone=%2B4915112345678",
            "/x?phone=015112345678",
            "/x/max@example.com",
            "/x?email=max%40example.com",
            "/x?e=max%2540example.com",
            "/x?p=%2B49%20151%2012345678",
            "/x?p=%252B4915112345678",
            "/x?q=+49+151+1234+5678",
        ],
    )
    def test_contact_details_in_a_path_are_masked(self, path: str) -> None:
        """Neither the number nor the address survives."""
        masked = mask_path(path)

        assert "5112345678" not in masked
        assert "151 12345678" not in masked
        assert "1234 5678" not in masked
        assert "example.com" not in masked

    @pytest.mark.parametrize(
        "path",
        [
            "/healthz?phone=415-555-0134&e=max.mustermann%40example%2Ecom",
            "/healthz?p=%2B1%20(415)%20555-0134&q=+49+151+2345+6789",
            "/x?p=(415)%20555-0134",
            "/x?p=415.555.0134",
            "/x?p=415/555/0134",
        ],
    )
    def test_phone_numbers_written_with_separators_are_masked(self, path: str) -> None:
        """A number spelt with spaces, dashes, dots, slashes or brackets keeps two digits."""
        masked = mask_path(path)

        assert "555" not in masked
        assert "2345" not in masked
        assert "mustermann" not in masked
        assert "<phone …34>" in masked

    def test_keys_stay_masked_once_decoded(self) -> None:
        """API keys and configured secrets are masked, encoded or not."""
        masked = mask_path(
            "/x?k=cal_live_abcdef123456&r=key%5Fabcdef1234567&s=top%2573ecret",
            secrets=["topsecret"],
        )

        assert "abcdef" not in masked
        assert "topsecret" not in masked

    def test_encoded_line_breaks_never_forge_a_line(self) -> None:
        """Decoding a path never writes a raw control character into the log."""
        masked = mask_path("/x%0D%0A127.0.0.1 - GET /admin 200%00")

        assert "\n" not in masked
        assert "\r" not in masked
        assert "\x00" not in masked

    def test_ordinary_paths_stay_readable(self) -> None:
        """Routes and short ids are left as they are."""
        assert mask_path("/retell/functions/check_availability?v=2") == (
            "/retell/functions/check_availability?v=2"
        )
