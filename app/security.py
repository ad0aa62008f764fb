"""Security headers on every answer (OWASP Secure Headers Project; REST Security Cheat Sheet):
documents get a Content-Security-Policy that lets the page load only its own scripts, styles and
images, no sniffing, no framing, no referrer; JSON answers, which no browser renders, get the
short API set (nothing may load, no framing, no sniffing)."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

# The page: ES modules and one stylesheet from /static, fetches to the same origin, an inline
# data: SVG favicon. Styles set from scripts (element.style) are not inline styles to CSP.
PAGE_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
               "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
               "form-action 'self'; frame-ancestors 'none'")
# /docs (Swagger UI) lives under the page's policy. /redoc sets this one itself: ReDoc adds the
# <style> elements it generates as it loads (some before it could read a nonce) and runs its
# search index in a worker made from a blob: URL. Scripts stay 'self' only.
REDOC_POLICY = PAGE_POLICY.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'").replace(
    "connect-src", "worker-src 'self' blob:; connect-src")
COMMON = ((b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer"),
          (b"x-frame-options", b"DENY"), (b"cross-origin-opener-policy", b"same-origin"),
          (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"))
# Referrer, opener and permissions policies act on documents only: on the JSON answers a drawn
# stroke brings (issue 18's bytes per stroke) they would be bytes of nothing.
API_POLICY = "default-src 'none'; frame-ancestors 'none'"
API_HEADERS = ((b"content-security-policy", API_POLICY.encode()),
               (b"x-content-type-options", b"nosniff"), (b"x-frame-options", b"DENY"))
PAGE_HEADERS = ((b"content-security-policy", PAGE_POLICY.encode()), *COMMON)


def media_type(content_type: str) -> str:
    """``application/json; charset=utf-8`` → ``application/json``."""
    return content_type.split(";")[0].strip().lower()


def is_json(media: str) -> bool:
    """``application/json`` or any ``application/…+json`` (problem+json, …)."""
    return media == "application/json" or (media.startswith("application/")
                                           and media.endswith("+json"))


class SecurityHeaders:
    """Pure ASGI middleware adding the headers to every HTTP answer (errors and 503s too),
    unless the route set one itself."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def securing_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers") or [])
                present = {name.lower(): value for name, value in headers}
                content_type = present.get(b"content-type", b"").decode("latin-1")
                extra = API_HEADERS if is_json(media_type(content_type)) else PAGE_HEADERS
                headers += [(name, value) for name, value in extra if name not in present]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, securing_send)
