"""API Gateway (HTTP API, payload format 2.0) in front of our API handler, as the tests need it.

`route_key` and `event` make the event API Gateway hands the Lambda; `BrowserApi` serves the
handler over HTTP the way the browser API of infra/modules/api does: CORS for the gallery's origin
only (API Gateway answers preflights itself), and a JWT authorizer that checks a Cognito ID token's
signature against the pool's keys, its issuer, audience and expiry, and passes its claims on.
What only AWS can show: the real authorizer's caching and error bodies, and its clock skew.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlencode, urlsplit

import requests

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from splatlib.aws import api as aws_api


def route_key(method: str, path: str) -> tuple[str, dict] | None:
    """The route API Gateway would match for this request and its path parameters; None if none."""
    for route in aws_api.ROUTES:
        verb, template = route.split(" ", 1)
        match = re.match("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", template) + "$", path)
        if verb == method and match:
            return route, match.groupdict()
    return None


def event(method: str, path: str, query: dict | None = None, body: str | None = None,
          claims: dict | None = None) -> dict:
    """The payload-2.0 event of a request (AssertionError for a path with no route)."""
    found = route_key(method, path)
    assert found, f"API Gateway has no route for {method} {path}"
    route, params = found
    context = {"http": {"method": method, "path": path}, "routeKey": route, "stage": "$default"}
    if claims is not None:
        context["authorizer"] = {"jwt": {"claims": claims, "scopes": None}}
    out = {"version": "2.0", "routeKey": route, "rawPath": path, "rawQueryString": urlencode(query or {}),
           "headers": {"content-type": "application/json"}, "requestContext": context, "isBase64Encoded": False}
    if query:
        out["queryStringParameters"] = {k: str(v) for k, v in query.items()}
    if params:
        out["pathParameters"] = params
    if body is not None:
        out["body"] = body
    return out


class BrowserApi:
    """The browser API on 127.0.0.1: `origin` is the only one allowed; tokens are checked against
    `keys` (the pool's JWKS), `issuer` and `audience`. `url` once started."""

    def __init__(self, origin: str, keys: dict, issuer: str, audience: str,
                 handler: Callable[[dict], dict] = aws_api.api):
        self.origin, self.keys, self.issuer, self.audience, self.handler = origin, KeySet.import_key_set(keys), \
            issuer, audience, handler
        self.requests: list[tuple[str, str, int]] = []  # (method, path, status) as answered
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_OPTIONS(self) -> None:  # noqa: N802
                outer._preflight(self)

            def do_GET(self) -> None:  # noqa: N802
                outer._call(self, "GET")

            def do_POST(self) -> None:  # noqa: N802
                outer._call(self, "POST")

            def do_DELETE(self) -> None:  # noqa: N802
                outer._call(self, "DELETE")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> BrowserApi:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()

    def _cors(self, request) -> dict:
        return {"access-control-allow-origin": self.origin} if request.headers.get("Origin") == self.origin else {}

    def _preflight(self, request) -> None:
        allowed = (request.headers.get("Origin") == self.origin
                   and request.headers.get("Access-Control-Request-Method") in ("GET", "POST", "DELETE")
                   and all(h.strip().lower() in ("authorization", "content-type", "")
                           for h in request.headers.get("Access-Control-Request-Headers", "").split(",")))
        headers = {**self._cors(request), "access-control-allow-methods": "GET,POST,DELETE",
                   "access-control-allow-headers": "authorization,content-type", "access-control-max-age": "3600"}
        self._answer(request, "OPTIONS", 204, headers if allowed else {}, b"")

    def claims(self, authorization: str) -> dict | None:
        """The token's claims if the authorizer would let it through, else None."""
        token = authorization.removeprefix("Bearer ").strip()
        try:
            decoded = jwt.decode(token, self.keys)
        except (JoseError, ValueError):
            return None
        claims = decoded.claims
        if claims.get("iss") != self.issuer or self.audience not in (claims.get("aud"), claims.get("client_id")):
            return None
        return claims if claims.get("exp", 0) > time.time() else None

    def _call(self, request, method: str) -> None:
        parts = urlsplit(request.path)
        if route_key(method, parts.path) is None:
            return self._answer(request, method, 404, self._cors(request), b'{"message":"Not Found"}')
        claims = self.claims(request.headers.get("Authorization", ""))
        if claims is None:
            return self._answer(request, method, 401, self._cors(request), b'{"message":"Unauthorized"}')
        length = int(request.headers.get("Content-Length") or 0)
        body = request.rfile.read(length).decode() if length else None
        out = self.handler(event(method, parts.path, dict(parse_qsl(parts.query)) or None, body, claims))
        headers = {**(out.get("headers") or {}), **self._cors(request)}
        self._answer(request, method, out["statusCode"], headers, (out.get("body") or "").encode())

    def _answer(self, request, method: str, status: int, headers: dict, body: bytes) -> None:
        self.requests.append((method, request.path, status))
        request.send_response(status)
        for name, value in headers.items():
            request.send_header(name, value)
        request.send_header("Content-Length", str(len(body)))
        request.end_headers()
        request.wfile.write(body)


def jwks(cognito_url: str, pool_id: str) -> dict:
    """The pool's signing keys as Cognito publishes them (moto serves them too)."""
    return requests.get(f"{cognito_url}/{pool_id}/.well-known/jwks.json", timeout=10).json()

