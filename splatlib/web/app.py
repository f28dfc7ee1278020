"""The web application: a JSON API under /api and the gallery pages, over the same library."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import logging
import re
import secrets
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import urlsplit

import orjson
from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from PIL import Image, UnidentifiedImageError
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..errors import InputError, SplatError
from ..layout import VIDEO, SceneKeys
from ..library import LocalStore, Scene, SQLiteCatalog, Status
from ..space import disk_full, ensure_room, is_disk_full
from ..threads import default_concurrency
from ..stages.posed import TRANSFORMS, project_files, project_kind
from ..media import IMAGE_SUFFIXES, VIDEO_SUFFIXES, check_photo, probe_video
from ..options import BY_NAME, OPTIONS
from ..options import table as options_table
from ..pipeline import Pipeline, PipelineOptions, safe_filename, unique_filename
from ..scene_api import DOWNLOADS, ApiError, SceneService, as_api_error, capture_cameras, error_body
from .vendor import MOUNTS, find_vendor_dir
from .worker import Workers

log = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "static"


class ErrorDetail(BaseModel):
    code: str  # bad_request, unauthorized, forbidden, not_found, conflict, too_large, …
    message: str  # for a person


class ErrorBody(BaseModel):
    """The shape of every error from both back ends (`scene_api.error_body`)."""

    error: ErrorDetail


API_DESCRIPTION = ("Scenes of the Splat Library. The local server and the AWS HTTP API answer the same scene routes "
                   "with the same JSON and errors; creating a scene differs (here: a multipart upload; on AWS: JSON, "
                   "answered with a presigned POST to S3).")


@dataclass
class Settings:
    home: Path
    host: str = "127.0.0.1"  # the address the server is bound to; with `allowed_hosts`, what Host may name
    allowed_hosts: tuple[str, ...] = ()  # more names the server is reached by (a LAN name, a proxy's)
    token: str | None = None  # bearer token required for writes when set
    private: bool = False  # with `token`: reads need it too (or the session cookie that POST /api/session sets)
    max_upload_bytes: int = 2 * 1024 ** 3
    concurrency: int = field(default_factory=default_concurrency)  # scenes run at once
    run_workers: bool = True
    options: PipelineOptions | None = None  # pipeline settings for uploaded scenes
    vendor_dir: Path | None = None  # node_modules with three and @sparkjsdev/spark


class UploadTooLarge(Exception):
    pass


LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
WILDCARD_HOSTS = ("0.0.0.0", "::", "")
SESSION_COOKIE = "splatlib_session"
CLIENT_HEADER = "X-Splatlib-Client"
"""A header a web page on another site cannot send without a CORS preflight (which this server never
grants): a state change needs it, or an Authorization header."""


def _inline_script_hashes(*pages: Path) -> str:
    """CSP sources of the inline scripts (the viewer's import map) of our pages."""
    found = []
    for page in pages:
        for body in re.findall(r"<script[^>]*>(.*?)</script>", page.read_text(), re.S):
            if body.strip():
                found.append("'sha256-" + base64.b64encode(hashlib.sha256(body.encode()).digest()).decode() + "'")
    return " ".join(found)


def security_headers(static: Path) -> dict[str, str]:
    """Headers on every response: no sniffing, no framing, and a CSP that lets only our own scripts
    (and the viewer's WebAssembly and blob workers) run."""
    csp = ("default-src 'self'; script-src 'self' 'wasm-unsafe-eval' " + _inline_script_hashes(*static.glob("*.html"))
           + "; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; connect-src 'self' data: blob:; "
           "worker-src 'self' blob:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
    return {"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY", "Content-Security-Policy": csp,
            "Referrer-Policy": "no-referrer"}


def _host_name(host_header: str) -> str:
    """The name in a Host header, without the port ('[::1]:8000' -> '::1')."""
    if host_header.startswith("["):
        return host_header[1:].split("]", 1)[0]
    return host_header.rsplit(":", 1)[0] if host_header.count(":") == 1 else host_header


def refusal(request: Request, allowed: set[str] | None) -> tuple[int, str] | None:
    """Why a request must be refused, or None. `allowed`: the names Host may carry (None: any).

    - Host must name this server, so a page on a DNS-rebound name cannot reach it;
    - a state change must not come from another site (Origin, Sec-Fetch-Site), and must carry a
      header a cross-site form or simple request cannot (Authorization or X-Splatlib-Client).
    """
    host = request.headers.get("host", "")
    if allowed is not None and _host_name(host).lower() not in allowed:
        return 400, (f"unexpected Host {host!r}: this server answers to {', '.join(sorted(allowed))} "
                     "(add a name with --allowed-host)")
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return None
    site = request.headers.get("sec-fetch-site")
    origin = request.headers.get("origin")
    if site not in (None, "same-origin", "none") or (origin and urlsplit(origin).netloc.lower() != host.lower()):
        return 403, "cross-site request refused: changes can only come from this server's own pages or a script"
    if "authorization" not in request.headers and CLIENT_HEADER.lower() not in request.headers:
        return 403, f"changes need the header '{CLIENT_HEADER}: 1' (or 'Authorization: Bearer TOKEN')"
    return None


STALE_UPLOAD_SECONDS = 3600


def remove_stale_uploads(tmp_root: Path) -> None:
    """Remove what a server killed mid-upload left in the library's tmp/ (older than an hour: another
    server on the same library may be receiving an upload right now)."""
    if not tmp_root.is_dir():
        return
    for entry in tmp_root.iterdir():
        if time.time() - entry.stat().st_mtime > STALE_UPLOAD_SECONDS:
            shutil.rmtree(entry, ignore_errors=True) if entry.is_dir() else entry.unlink(missing_ok=True)


def create_app(settings: Settings) -> FastAPI:
    """Build the FastAPI app; workers start with the app and stop with it."""
    home = settings.home
    catalog = SQLiteCatalog(home / "catalog.sqlite")
    store = LocalStore(home / "store")
    pipeline = Pipeline(catalog, store)
    workers = Workers(lambda: Pipeline(SQLiteCatalog(home / "catalog.sqlite"), store), settings.concurrency)
    remove_stale_uploads(home / "tmp")

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        if settings.run_workers:
            workers.start()
        yield
        workers.shutdown()

    app = FastAPI(title="Splat Library", version="0.1.0", lifespan=lifespan, docs_url=None, redoc_url=None,
                  openapi_url="/api/openapi.json", description=API_DESCRIPTION,
                  responses={"default": {"model": ErrorBody, "description": "An error (every status from 400 up)"}})
    app.state.workers = workers
    headers = security_headers(STATIC)
    allowed = None if settings.host in WILDCARD_HOSTS else \
        {name.lower() for name in (*LOOPBACK_NAMES, settings.host, *settings.allowed_hosts)}

    @app.middleware("http")
    async def guard(request: Request, call_next):
        refused = refusal(request, allowed)
        response = JSONResponse(error_body(*refused), status_code=refused[0]) if refused else \
            await call_next(request)
        response.headers.update(headers)
        return response

    def has_token(request: Request) -> bool:
        given = request.headers.get("authorization", "")
        return secrets.compare_digest(given.encode(), f"Bearer {settings.token}".encode())

    def require_token(request: Request) -> None:
        if settings.token is not None and not has_token(request):
            raise HTTPException(401, "this server needs an API token for changes: send 'Authorization: Bearer TOKEN'")

    session = hmac.new(settings.token.encode(), b"splatlib session", hashlib.sha256).hexdigest() \
        if settings.token else None  # the cookie's value: proves the token without being it

    def require_read(request: Request) -> None:
        """With --private, reads need the token: as a bearer header (scripts) or the session cookie (pages)."""
        if not settings.private:
            return
        cookie = request.cookies.get(SESSION_COOKIE, "")
        if not (has_token(request) or secrets.compare_digest(cookie.encode(), session.encode())):
            raise HTTPException(401, "this library is private: send 'Authorization: Bearer TOKEN', "
                                     "or sign in on the gallery page")

    service = SceneService(catalog, store, pipeline, lambda scene, name, key: f"/api/scenes/{scene.id}/files/{name}")

    def get_scene(scene_id: str) -> Scene:
        return service.get(scene_id)

    listed: dict[tuple[str, float, int], bytes] = {}

    def listed_json(scene: Scene) -> bytes:
        """`service.present` encoded, kept per version of the record: every write of a record sets its
        `updated_at`, so a listing encodes only the scenes that changed since the last one (1,000
        scenes: 45 ms to encode them all, bench_load.py). orjson, not FastAPI's generic encoder (90 ms
        for 1,000); a NaN metric becomes null rather than invalid JSON."""
        key = (scene.id, scene.updated_at, scene.generation)
        part = listed.get(key)
        if part is None:
            part = orjson.dumps(service.present(scene), option=orjson.OPT_NON_STR_KEYS)
            if "file_bytes" in scene.metrics and "upload_bytes" in scene.metrics:  # else it read the store
                if len(listed) >= 20_000:  # old versions are never asked for again
                    listed.clear()
                listed[key] = part
        return part

    @app.exception_handler(ApiError)
    @app.exception_handler(SplatError)
    async def api_error(_: Request, exc: SplatError | ApiError) -> JSONResponse:
        """Our errors in the shape both back ends answer (`scene_api.error_body`)."""
        known = as_api_error(exc)
        return JSONResponse(error_body(known.status, str(known)), status_code=known.status)

    @app.exception_handler(Exception)
    async def bug(_: Request, exc: Exception) -> JSONResponse:
        return JSONResponse(error_body(500, f"internal error ({type(exc).__name__}); the server log has the details"),
                            status_code=500)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse(error_body(exc.status_code, str(exc.detail)), status_code=exc.status_code,
                            headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        where = "; ".join(f"{'.'.join(str(x) for x in e['loc'])}: {e['msg']}" for e in exc.errors())
        return JSONResponse(error_body(400, f"bad request: {where}"), status_code=400)

    @app.post("/api/session", status_code=204)
    async def sign_in(request: Request) -> Response:
        """Exchange the API token (JSON `{"token": …}`) for a session cookie, so that the gallery's
        images and the viewer's files load on a private server."""
        try:
            given = str((await request.json()).get("token", ""))
        except (ValueError, AttributeError):
            raise HTTPException(422, 'send JSON {"token": "…"}') from None
        if settings.token is None or not secrets.compare_digest(given.encode(), settings.token.encode()):
            raise HTTPException(401, "wrong token")
        response = Response(status_code=204)
        response.set_cookie(SESSION_COOKIE, session, httponly=True, samesite="strict", path="/api",
                            max_age=30 * 24 * 3600)
        return response

    @app.post("/api/scenes", status_code=201, dependencies=[Depends(require_token)])
    async def create_scene(request: Request) -> dict:
        """Upload one video or several photos (multipart field `file`; optional `title`, and any of the
        options that `GET /api/options` lists, e.g. `minutes`: a time budget the training is planned to fit)."""
        length = request.headers.get("content-length")
        if length and length.isdigit() and int(length) > settings.max_upload_bytes:
            raise HTTPException(413, _too_large(settings.max_upload_bytes))
        tmp_root = home / "tmp"
        tmp_root.mkdir(parents=True, exist_ok=True)
        if length and length.isdigit():  # received here, then copied into the library: twice its size
            ensure_room(tmp_root, 2 * int(length), "the upload")
        tmp = Path(tempfile.mkdtemp(dir=tmp_root))
        try:
            try:
                title, fields, saved, originals, paths = await _receive_upload(request, tmp, settings.max_upload_bytes)
            except UploadTooLarge:
                raise HTTPException(413, _too_large(settings.max_upload_bytes)) from None
            except OSError as exc:
                if is_disk_full(exc):
                    raise disk_full(tmp_root, 2 * int(length or 0), "the upload") from None
                raise
            try:
                options = replace(settings.options or PipelineOptions(),
                                  **{name: BY_NAME[name].parse(text) for name, text in fields.items()})
            except ValueError as exc:
                raise HTTPException(422, str(exc)) from None
            # decoding the upload to check it, and copying it into the library, take seconds for a
            # large one: in a worker thread, so that other requests are answered meanwhile
            scene = await run_in_threadpool(
                lambda: pipeline.create_scene(_check_upload(saved, paths, tmp), title, options, originals))
        finally:
            await run_in_threadpool(shutil.rmtree, tmp, True)
        workers.notify()
        return service.present(scene)

    @app.get("/api/options")
    def list_options() -> dict:
        """The settings a scene can be given at upload: type, bounds or choices, help, and this server's default."""
        defaults = settings.options or PipelineOptions()
        return options_table(defaults)

    @app.get("/api/scenes", dependencies=[Depends(require_read)])
    def list_scenes(status: str | None = None, limit: int = 50, offset: int = 0) -> Response:
        """Scenes, newest first (`status`: only those; `limit` 1–500, `offset` for the next page)."""
        scenes = b",".join(listed_json(s) for s in service.list(status, limit, offset))
        return Response(b'{"scenes":[%b],"limit":%d,"offset":%d}' % (scenes, limit, offset),
                        media_type="application/json")

    @app.get("/api/scenes/{scene_id}", dependencies=[Depends(require_read)])
    def show_scene(scene: Scene = Depends(get_scene)) -> dict:
        return service.present(scene)

    @app.post("/api/scenes/{scene_id}/retry", status_code=202, dependencies=[Depends(require_token)])
    def retry_scene(scene_id: str) -> dict:
        """Queue a failed or stopped scene again; finished stages are kept."""
        scene = service.retry(scene_id)
        workers.notify()
        return service.present(scene)

    @app.delete("/api/scenes/{scene_id}", status_code=204, dependencies=[Depends(require_token)])
    def delete_scene(scene_id: str) -> Response:
        service.delete(scene_id)
        return Response(status_code=204)

    @app.post("/api/scenes/{scene_id}/clean", dependencies=[Depends(require_token)])
    async def clean_scene(request: Request, scene: Scene = Depends(get_scene)) -> dict:
        """Write a cleaned copy of a completed scene beside it (`clean.splat`, `clean.spz`, `clean.ply`
        among its files): JSON `{"crop": "auto" | "none" | "x,y,z,X,Y,Z", "floaters": true,
        "max_loss_db": 0.1}`, every field optional. Answers the report: Gaussians and bytes before
        and after, what each rule removed, held-out PSNR before and after."""
        from ..stages.clean import CleanOptions

        try:
            body = await request.json() if await request.body() else {}
            options = CleanOptions(str(body.get("crop", "auto")), bool(body.get("floaters", True)),
                                   float(body.get("max_loss_db", 0.1)))
        except (ValueError, TypeError, AttributeError):
            raise HTTPException(422, 'send JSON like {"crop": "auto", "floaters": true, "max_loss_db": 0.1}') from None
        if scene.status != Status.COMPLETED:
            raise HTTPException(409, f"scene {scene.id} is {scene.status.value}: only a completed scene can be cleaned")
        try:
            return await run_in_threadpool(pipeline.clean, scene.id, options)
        except InputError as exc:
            raise HTTPException(422, str(exc)) from exc

    videos: dict[str, dict] = {}  # scene id -> the state of its video being made (this process's)

    @app.post("/api/scenes/{scene_id}/video", status_code=202, dependencies=[Depends(require_token)])
    async def make_video(request: Request, scene: Scene = Depends(get_scene)) -> dict:
        """Render a video of a completed scene (`video.mp4` among its files once done): JSON
        `{"path": "capture" | "orbit", "seconds": 10, "fps": 30, "size": "1280x720"}`, every field
        optional. Answers at once; `GET …/video` tells its progress."""
        try:
            body = await request.json() if await request.body() else {}
            path = str(body.get("path", "capture"))
            seconds, fps = float(body.get("seconds", 10)), float(body.get("fps", 30))
            size = str(body["size"]) if body.get("size") else None
        except (ValueError, TypeError, AttributeError):
            raise HTTPException(422, 'send JSON like {"path": "orbit", "seconds": 10, "fps": 30}') from None
        if path not in ("capture", "orbit"):
            raise HTTPException(422, f"path must be capture or orbit, not {path!r}")
        try:
            cameras = capture_cameras(scene, store)
        except InputError as exc:
            raise HTTPException(409, str(exc)) from exc
        if videos.get(scene.id, {}).get("state") == "rendering":
            raise HTTPException(409, "a video of this scene is being made; wait for it")
        from ..stages.movie import plan_video

        try:
            keys, width, height = plan_video(cameras, path, seconds, fps, size)
        except InputError as exc:
            raise HTTPException(422, str(exc)) from exc
        state = videos[scene.id] = {"state": "rendering", "progress": 0.0, "path": path, "seconds": seconds,
                                    "size": f"{width}x{height}", "fps": fps}
        threading.Thread(target=_render_video, args=(scene, keys, width, height, fps, state), daemon=True,
                         name=f"video-{scene.id}").start()
        return state

    def _render_video(scene: Scene, keys: list, width: int, height: int, fps: float, state: dict) -> None:
        from ..formats.ply import read_ply
        from ..stages.movie import render_movie

        k = SceneKeys(scene.id)
        try:
            render_movie(read_ply(store.path(scene.ply_key)), keys, store.path(k.output(VIDEO)), width, height, fps,
                         lambda fraction, message: state.update(progress=round(fraction, 3)))
            pipeline.record_outputs(scene.id)
            state.update(state="done", progress=1.0)
        except Exception as exc:  # the page shows it; the scene itself is unharmed
            log.warning("video of scene %s failed: %s", scene.id, exc)
            state.update(state="failed", error=str(exc) if isinstance(exc, SplatError) else f"{type(exc).__name__}: {exc}")

    @app.get("/api/scenes/{scene_id}/video", dependencies=[Depends(require_read)])
    def video_state(scene: Scene = Depends(get_scene)) -> dict:
        """The video being made or last made by this server: state (rendering, done, failed), progress."""
        if scene.id in videos:
            return videos[scene.id]
        return {"state": "done" if store.exists(SceneKeys(scene.id).output(VIDEO)) else "none"}

    @app.get("/api/scenes/{scene_id}/share", dependencies=[Depends(require_read)])
    def share(clean: bool = False, scene: Scene = Depends(get_scene)) -> Response:
        """One HTML file of the scene, viewer included, that opens from disk with no network (as an
        attachment); `?clean=true` shares the cleaned copy."""
        from .share import NothingToShare, scene_share_html

        try:
            html = scene_share_html(scene, store, clean)
        except NothingToShare as exc:
            raise HTTPException(409, str(exc)) from exc
        except InputError as exc:  # too big for one page
            raise HTTPException(413, str(exc)) from exc
        name = safe_filename(scene.title) or scene.id
        return Response(html, media_type="text/html",
                        headers={"Content-Disposition": f'attachment; filename="{name}.html"'})

    @app.get("/api/scenes/{scene_id}/files/{name}", dependencies=[Depends(require_read)])
    def download(name: str, scene: Scene = Depends(get_scene)) -> FileResponse:
        key = service.file_key(scene, name)
        if not key or not store.exists(key):
            raise HTTPException(404, f"{name} does not exist (yet) for scene {scene.id}")
        return FileResponse(store.path(key), media_type=DOWNLOADS[name][1], filename=f"{scene.id}-{name}")

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(STATIC / "index.html")

    @app.get("/scenes/{scene_id}", include_in_schema=False)
    def scene_page(scene_id: str) -> FileResponse:
        if not settings.private:
            get_scene(scene_id)  # a 404 for a scene that is not there (private: the page asks for the token first)
        return FileResponse(STATIC / "scene.html")

    @app.get("/api/docs", include_in_schema=False)
    def api_docs() -> FileResponse:
        return FileResponse(STATIC / "docs.html")

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> RedirectResponse:
        return RedirectResponse("/static/favicon.svg")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    vendor = settings.vendor_dir or find_vendor_dir()
    if vendor is not None:
        for url, (package, folder) in MOUNTS.items():
            if (vendor / package / folder).is_dir():  # a vendor_dir given in the settings may hold only some
                app.mount(url, StaticFiles(directory=vendor / package / folder), name=package)
    else:
        log.warning("three.js / Spark not found (run `npm ci`): the 3D viewer will be unavailable")
    return app


def _too_large(limit: int) -> str:
    return f"upload too large: the limit is {limit / 1024 ** 2:.0f} MiB"


async def _receive_upload(request: Request, dest: Path, limit: int
                          ) -> tuple[str | None, dict[str, str], list[Path], dict[str, str], dict[str, str]]:
    """Stream the multipart body to files in `dest` (unique safe names), counting bytes; returns
    (title, the non-empty option fields by name, saved files, the user's file name by saved name,
    the path the client gave by saved name: a project's files are named by their place in it)."""
    received = 0
    receive = request.receive

    async def counting_receive():
        nonlocal received
        message = await receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > limit:
                raise UploadTooLarge()
        return message

    limited = Request(request.scope, counting_receive)
    form = await limited.form(max_files=2000, max_fields=len(OPTIONS) + 8)
    title = form.get("title")
    fields = {o.name: text.strip() for o in OPTIONS
              if isinstance(text := form.get(o.name), str) and text.strip()}
    saved: list[Path] = []
    originals: dict[str, str] = {}
    paths: dict[str, str] = {}
    taken: set[str] = set()
    try:
        for upload in form.getlist("file"):
            if not hasattr(upload, "read"):
                continue
            given = (upload.filename or "upload").replace("\\", "/")
            original = given.rsplit("/", 1)[-1][:255] or "upload"
            target = dest / "in" / unique_filename(original, taken)
            originals[target.name] = original
            paths[target.name] = given
            target.parent.mkdir(exist_ok=True)
            with open(target, "wb") as out:
                while chunk := await upload.read(1024 * 1024):
                    out.write(chunk)
            saved.append(target)
    finally:
        await form.close()
    if not saved:
        raise HTTPException(422, "no file: send the video or photos in the multipart field 'file'")
    return (str(title)[:200] if isinstance(title, str) and title.strip() else None,
            fields, saved, originals, paths)


def _project_layout(saved: list[Path], paths: dict[str, str]) -> tuple[dict[Path, str], str] | None:
    """Where each file goes if the upload is a project with its cameras (a `transforms.json`, or a
    COLMAP model under `sparse/`), by the paths the client gave less a folder they all share, and
    that folder's name ("project" if none); None for a video or photos. HTTP 400 for a path that
    would leave the project."""
    parts = {p: [x for x in paths[p.name].split("/") if x not in ("", ".")] for p in saved}
    name = "project"
    if len(saved) > 1 and all(len(v) > 1 for v in parts.values()) and len({v[0] for v in parts.values()}) == 1:
        name = next(iter(parts.values()))[0]  # a dropped folder's own name
        parts = {p: v[1:] for p, v in parts.items()}
    names = {"/".join(v) for v in parts.values()}
    if TRANSFORMS not in names and not any(re.fullmatch(r"sparse/(0/)?cameras\.(bin|txt)", n) for n in names):
        return None
    for given in parts.values():
        if not given or ".." in given or any(len(x) > 255 or any(ord(c) < 32 for c in x) for x in given):
            raise HTTPException(400, f"file path {'/'.join(given)!r} must stay inside the project")
    if len(names) < len(parts):
        raise HTTPException(400, "the same file path was sent twice")
    return {p: "/".join(v) for p, v in parts.items()}, name


def _check_upload(saved: list[Path], paths: dict[str, str], tmp: Path) -> Path:
    """Check the files' content; returns the video file, a folder of photos, or a project folder."""
    found = _project_layout(saved, paths)
    if found is not None:
        layout, name = found
        project = tmp / "project" / safe_filename(name)  # its name is the scene's default title
        for path, relative in layout.items():
            if path.suffix.lower() in IMAGE_SUFFIXES:
                try:
                    check_photo(path, unreadable_ok=True)
                except InputError as exc:
                    raise HTTPException(413, str(exc)) from exc
            (project / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.move(path, project / relative)
        try:
            project_files(project, project_kind(project))  # the model and every image it names are there
        except InputError as exc:
            raise HTTPException(422, str(exc)) from exc
        return project
    videos = [p for p in saved if p.suffix.lower() in VIDEO_SUFFIXES]
    photos = [p for p in saved if p.suffix.lower() in IMAGE_SUFFIXES]
    unknown = [p.name for p in saved if p not in videos and p not in photos]
    if unknown:
        raise HTTPException(415, f"unsupported file type: {', '.join(unknown[:3])}; upload a video "
                                 f"({', '.join(sorted(VIDEO_SUFFIXES))}) or photos ({', '.join(sorted(IMAGE_SUFFIXES))})")
    if videos and (photos or len(videos) > 1):
        raise HTTPException(422, "upload either one video or a set of photos, not both")
    if videos:
        try:
            probe_video(videos[0])
        except InputError as exc:
            raise HTTPException(415, str(exc)) from exc
        return videos[0]
    folder = tmp / "photos"
    folder.mkdir()
    for photo in photos:
        try:
            check_photo(photo, unreadable_ok=True)  # a small file may claim a huge picture
        except InputError as exc:
            raise HTTPException(413, str(exc)) from exc
        try:
            with Image.open(photo) as im:
                im.verify()
        except (UnidentifiedImageError, OSError) as exc:
            raise HTTPException(415, f"{photo.name} is not a readable image") from exc
        shutil.move(photo, folder / photo.name)
    return folder
