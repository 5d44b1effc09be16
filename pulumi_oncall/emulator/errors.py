"""Errors the emulator answers, in the shapes a real OnCall server uses."""

from __future__ import annotations

from typing import Any

from werkzeug.exceptions import InternalServerError

NOT_FOUND_HTML = """<!doctype html>
<html lang="en">
<head>
  <title>Not Found</title>
</head>
<body>
  <h1>Not Found</h1><p>The requested resource was not found on this server.</p>
</body>
</html>
"""

SERVER_ERROR_HTML = """<!doctype html>
<html lang="en">
<head>
  <title>Server Error (500)</title>
</head>
<body>
  <h1>Server Error (500)</h1><p></p>
</body>
</html>
"""


def proxy_error_html(status: int, reason: str) -> str:
    """What a reverse proxy in front of OnCall answers on its own."""
    return (
        f"<html>\r\n<head><title>{status} {reason}</title></head>\r\n<body>\r\n"
        f"<center><h1>{status} {reason}</h1></center>\r\n<hr><center>nginx</center>\r\n"
        "</body>\r\n</html>\r\n"
    )


class ApiError(Exception):
    """An error answered as JSON: a field-error dict, a detail, or a bare list."""

    def __init__(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        super().__init__(status, body)
        self.status = status
        self.body = body
        self.headers = headers or {}


def detail(message: str, status: int = 400) -> ApiError:
    return ApiError(status, {"detail": message})


def not_found() -> ApiError:
    return detail("Not found.", 404)


class ServerCrash(InternalServerError):
    """A deliberate 500 (where the real server crashes); not logged as a bug."""
