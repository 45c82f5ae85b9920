"""The UI's safety rules: a token when bound beyond this machine, CSRF on state changes, home-only paths."""

from __future__ import annotations

import hmac
import ipaddress
import secrets
from pathlib import Path

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ntrader.errors import InputError

TOKEN_COOKIE = "ntrader_token"
CSRF_FIELD = "csrf"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def resolve_token(host: str, token: str | None) -> tuple[str | None, bool]:
    """The token the server checks (None: none needed) and whether it was generated here."""
    if token:
        return token, False
    if is_loopback(host):
        return None, False
    return secrets.token_urlsafe(24), True


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def same(a: str | None, b: str) -> bool:
    return a is not None and hmac.compare_digest(a.encode(), b.encode())


class TokenMiddleware:
    """Every request carries the token (bearer header, cookie, or `?token=` which sets the cookie)."""

    def __init__(self, app: ASGIApp, token: str | None) -> None:
        self.app = app
        self.token = token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.token is None:
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        bearer = request.headers.get("authorization", "")
        offered = [
            bearer[7:] if bearer.lower().startswith("bearer ") else None,
            request.cookies.get(TOKEN_COOKIE),
            request.query_params.get("token"),
        ]
        if not any(same(value, self.token) for value in offered):
            response: Response = PlainTextResponse(
                "401: this ntrader UI needs its token (printed when the server started): "
                "open the URL with ?token=…",
                status_code=401,
            )
            await response(scope, receive, send)
            return
        if same(offered[2], self.token) and not same(offered[1], self.token):

            async def send_with_cookie(message: Message) -> None:
                if message["type"] == "http.response.start":
                    cookie = f"{TOKEN_COOKIE}={self.token}; Path=/; HttpOnly; SameSite=Strict"
                    message.setdefault("headers", []).append((b"set-cookie", cookie.encode()))
                await send(message)

            await self.app(scope, receive, send_with_cookie)
            return
        await self.app(scope, receive, send)


LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost", "[::1]"})


class LoopbackHostMiddleware:
    """Without a token, answer only requests addressed to this machine by name or address.

    A web page elsewhere can point a DNS name it controls at 127.0.0.1 ("DNS rebinding") and then
    read this server's pages as same-origin; its requests still carry its own name in `Host`.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            host = Request(scope).headers.get("host", "")
            name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
            if name.lower() not in LOOPBACK_NAMES:
                response = PlainTextResponse(
                    f"400: this ntrader UI answers only to 127.0.0.1 or localhost, not {host!r}",
                    status_code=400,
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


class CSRFError(Exception):
    """A state-changing request without the page's CSRF token."""


async def checked_form(request: Request) -> FormData:
    """The request's form once its CSRF token (form field or X-CSRF-Token header) matches."""
    form = await request.form()
    secret: str = request.app.state.csrf
    offered = request.headers.get(CSRF_HEADER) or form.get(CSRF_FIELD)
    if not same(offered if isinstance(offered, str) else None, secret):
        raise CSRFError
    return form


def safe_home_path(home: Path, name: str, field: str) -> Path:
    """`name` (relative to ntrader's home, or absolute inside it) as a path that cannot leave the home."""
    root = home.expanduser().resolve()
    candidate = Path(name).expanduser()
    path = (candidate if candidate.is_absolute() else root / candidate).resolve()
    if not path.is_relative_to(root):
        error = InputError(f"{field} must be a file inside ntrader's home ({root}), got {name!r}")
        error.field = field
        raise error
    return path
