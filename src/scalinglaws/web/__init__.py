"""The local web app (`scalinglaws serve`): Starlette, served by uvicorn on 127.0.0.1 by default.

A user picks a bundled dataset or drops a CSV (read in a temporary folder that is deleted at once;
uploads over ``max_upload`` bytes are refused before they are read whole), maps columns, chooses a
law (auto included) and sees the fit, the forecast with its band and the plan. Every asset is served
from the package; the page fetches nothing from elsewhere. Errors in the user's input come back as
the CLI's one-line message in ``{"error": ...}`` (with status 200: a refusal is an answer, and the
browser logs no failed load); anything else as a short message with status 500, never a stack trace.
"""

from __future__ import annotations

import json
import logging
import math
import threading
from importlib import resources

from ..errors import MissingExtraError, ScalingLawsError
from . import work

MAX_UPLOAD = 20 * 1024 * 1024  # bytes
STATIC = ("index.html", "app.js", "app.css")
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1", "[::1]")
HEADERS = {  # on every answer: assets from this server only, never framed, never sniffed
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; base-uri 'none'; "
                               "form-action 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
log = logging.getLogger("scalinglaws.web")

__all__ = ["MAX_UPLOAD", "create_app"]


def _need():
    try:
        import starlette  # noqa: F401
    except ImportError:
        raise MissingExtraError("the web app needs starlette and uvicorn: pip install 'scalinglaws[web]'") from None


def _safe(v):
    """JSON-safe: non-finite numbers as null, NumPy values as Python ones."""
    if isinstance(v, dict):
        return {str(k): _safe(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_safe(x) for x in v]
    if hasattr(v, "item") and not isinstance(v, (str, bytes)):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def create_app(data: str | None = None, *, max_upload: int = MAX_UPLOAD, hosts=LOOPBACK_NAMES):
    """The Starlette app; ``data`` (a bundled dataset's name or a table's path) is loaded first.

    ``hosts``: the names the app answers to (the Host header); loopback names by default, so a page
    elsewhere cannot reach it by rebinding its own name to 127.0.0.1. Requests that change state
    must come from the app's own page: JSON with its content type, and no other site's Origin or
    Sec-Fetch-Site (a form or a fetch from another site is refused)."""
    _need()
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.middleware import Middleware
    from starlette.middleware.trustedhost import TrustedHostMiddleware
    from starlette.responses import Response
    from starlette.routing import Route

    tables = work.Tables()
    fitting = threading.Lock()  # one fit at a time: a local app for one user, and memory stays bounded
    first = {}
    if data is not None:
        from ..data import load_runs

        runs = load_runs(data)
        first = work.describe(tables.add(runs), runs)

    def reply(doc, status=200):
        return Response(json.dumps(_safe(doc), allow_nan=False), status_code=status, media_type="application/json",
                        headers=HEADERS)

    async def answer(fn, *args):
        try:
            return reply(await run_in_threadpool(fn, *args))
        except ScalingLawsError as exc:  # a refusal is an answer (status 200): the browser logs no failed load
            return reply({"error": str(exc)})
        except Exception:  # noqa: BLE001 - logged here, never sent to the page
            log.exception("request failed")
            return reply({"error": "internal error: the server could not answer this request (see its log)"}, 500)

    async def static(request):
        name = request.path_params.get("name", "index.html")
        if name not in STATIC:
            return Response("not found", status_code=404, media_type="text/plain")
        text = (resources.files(__package__) / "static" / name).read_text(encoding="utf-8")
        kind = {"html": "text/html", "js": "text/javascript", "css": "text/css"}[name.rsplit(".", 1)[1]]
        return Response(text, media_type=f"{kind}; charset=utf-8", headers=HEADERS)

    async def start(request):
        return reply({"datasets": work.datasets(), "table": first or None, "max_upload": max_upload,
                      "local_only": all(h in LOOPBACK_NAMES for h in hosts)})

    async def load(request):
        payload = await _json(request, max_upload)
        return reply(payload) if "error" in payload else await answer(work.load, payload, tables)

    async def upload(request):
        refused = _foreign(request)
        if refused:
            return reply({"error": refused}, 403)
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > max_upload:
            return reply({"error": _too_big(int(declared), max_upload)})
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > max_upload:
                return reply({"error": _too_big(len(body), max_upload)})
        name = request.query_params.get("name", "upload.csv")

        def read():
            runs = work.read_upload(name, bytes(body))
            return work.describe(tables.add(runs), runs)

        return await answer(read)

    async def fit(request):
        payload = await _json(request, max_upload)
        if "error" in payload:
            return reply(payload)

        def run():
            with fitting:
                return work.fit_request(payload, tables)

        return await answer(run)

    routes = [Route("/", static), Route("/static/{name}", static), Route("/api/start", start),
              Route("/api/load", load, methods=["POST"]), Route("/api/upload", upload, methods=["POST"]),
              Route("/api/fit", fit, methods=["POST"])]
    return Starlette(routes=routes, middleware=[Middleware(TrustedHostMiddleware, allowed_hosts=list(hosts))])


def _foreign(request) -> str | None:
    """Why a request that changes state does not come from the app's own page (None when it does)."""
    site = request.headers.get("sec-fetch-site")
    if site is not None and site not in ("same-origin", "none"):
        return f"refused: a request from another site ({site}) cannot use this app"
    origin = request.headers.get("origin")
    if origin is not None and origin != f"{request.url.scheme}://{request.headers.get('host', '')}":
        return f"refused: a request from {origin} cannot use this app"
    return None


async def _json(request, limit: int) -> dict:
    """The request's JSON object, read up to ``limit`` bytes; ``{"error": ...}`` when it is not one
    or does not come from the app's own page."""
    refused = _foreign(request)
    if refused:
        return {"error": refused}
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
        return {"error": "the request must be JSON (Content-Type: application/json)"}
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            return {"error": _too_big(len(body), limit)}
    try:
        doc = json.loads(bytes(body) or b"{}")
    except ValueError:
        return {"error": "the request must be a JSON object"}
    if not isinstance(doc, dict) or "error" in doc:
        return {"error": "the request must be a JSON object (without an `error` key)"}
    return doc


def _too_big(size: int, limit: int) -> str:
    return f"the upload is {size / 1e6:.1f} MB; the limit is {limit / 1e6:.1f} MB (scalinglaws serve --max-upload-mb)"
