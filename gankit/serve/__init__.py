"""``gankit serve``: a local web page to explore trained runs, a Flask app over ``gankit.load``.

The page (static/index.html and explorer.js, no build step, nothing from the network) asks the JSON endpoints
below for pictures as PNG data URIs. Each run is loaded once and kept; the networks are called under one lock
(the development server answers requests in threads). The server writes nothing: uploads are read in memory,
a missing report.html is built in memory, and only files inside the given runs are ever sent.
"""
from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from flask import Flask, Response, jsonify, request, send_file
from werkzeug.exceptions import HTTPException

from gankit.api import Run, load
from gankit.errors import ConfigError, GankitError
from gankit.imageio import read_upload
from gankit.serve import explore
from gankit.serve.explore import Direction

MAX_SAMPLES, MAX_STEPS, MAX_UPLOAD_BYTES = 64, 16, 8 * 1024 * 1024
AMOUNT_LIMIT = 10.0  # the slider's range is +-3; a request may go further, not without bound


class RequestError(ConfigError):
    """A request the explorer cannot answer (a bad value, a run that does not exist): status 400."""


class NotFound(GankitError):
    """A file or page the explorer does not have or will not send: status 404."""


def parsed(args: Mapping[str, str], name: str, convert: Callable[[str], Any], what: str) -> Any:
    """Query value ``name`` converted (int, float), None when absent or empty; RequestError naming ``what``."""
    text = args.get(name, "").strip()
    if not text:
        return None
    try:
        return convert(text)
    except ValueError:
        raise RequestError(f"{name} must be {what}; got {text!r}") from None


def int_arg(args: Mapping[str, str], name: str, default: int | None, low: int, high: int) -> int | None:
    """Query value ``name`` as a whole number in low..high (``default`` when absent or empty)."""
    value = parsed(args, name, int, "a whole number")
    if value is None:
        return default
    if not low <= value <= high:
        raise RequestError(f"{name} must be in {low}..{high}; got {value}")
    return value


def float_arg(args: Mapping[str, str], name: str, low: float, high: float, *, low_open: bool = False,
              hint: str = "") -> float | None:
    """Query value ``name`` as a number in [low, high] (``(low, high]`` with ``low_open``), None when absent."""
    value = parsed(args, name, float, "a number")
    if value is None:
        return None
    if not (low < value if low_open else low <= value) or not value <= high:
        raise RequestError(f"{name} must be in {'(' if low_open else '['}{low:g}, {high:g}]{hint}; got {value:g}")
    return value


def class_arg(run: Run, args: Mapping[str, str]) -> int | None:
    """The chosen class (InfoGAN: the first categorical code's value; StarGAN: the target domain), or None."""
    classes = run.recipe.label_classes()
    if not args.get("class", "").strip():
        return None
    if not classes:
        raise RequestError(f"preset {run.config.preset!r} is not conditional: it has no class to pick")
    label = int_arg(args, "class", None, -(2 ** 31), 2 ** 31)
    if not 0 <= label < classes:
        raise RequestError(f"class {label} does not exist: this run has {classes} classes, 0..{classes - 1}")
    return label


def direction_arg(args: Mapping[str, str]) -> Direction | None:
    """The slider's move: amount along a random direction (its seed: direction_seed) or z entry ``dim``."""
    amount = float_arg(args, "amount", -AMOUNT_LIMIT, AMOUNT_LIMIT)
    if amount is None:
        return None
    kind = args.get("direction", "random")
    if kind not in ("random", "dim"):
        raise RequestError(f"direction must be 'random' or 'dim'; got {kind!r}")
    if kind == "dim":
        return Direction(amount, dim=int_arg(args, "dim", 0, 0, 2 ** 31))
    return Direction(amount, seed=int_arg(args, "direction_seed", 0, 0, 2 ** 63 - 1))


class Explorer:
    """The loaded runs and the lock their networks are called under."""

    def __init__(self, runs: list[Run]) -> None:
        self.runs = runs
        self.lock = threading.Lock()
        self.described = [explore.describe_run(run, i) for i, run in enumerate(runs)]

    def run(self, index: str) -> Run:
        """The run at ``index`` (as written in the URL), or a RequestError naming the valid indices."""
        if not index.isdigit() or int(index) >= len(self.runs):
            raise RequestError(f"run {index!r} does not exist: this server has {len(self.runs)} run(s), "
                               f"0..{len(self.runs) - 1}")
        return self.runs[int(index)]

    def call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """``fn`` under the lock: one request at a time touches the networks and the random generators."""
        with self.lock:
            return fn(*args, **kwargs)


def file_in_run(run: Run, relative: str) -> Path:
    """The file at ``relative`` inside the run directory, resolved; NotFound for anything outside or missing."""
    root = run.path.resolve()
    try:
        path = (root / relative).resolve()
    except (OSError, ValueError):  # a NUL byte, a loop of links
        raise NotFound(f"{relative!r} is not a path the explorer can read") from None
    if not path.is_relative_to(root):
        raise NotFound(f"{relative!r} is outside the run directory {run.path.name}: the explorer only sends the "
                       "runs' own files")
    if not path.is_file():
        raise NotFound(f"{relative!r}: no such file in the run directory {run.path.name}")
    return path


def create_app(run_dirs: list[str | Path], *, device: str = "auto") -> Flask:
    """The explorer's Flask app for the runs in ``run_dirs`` (each loaded once here, with ``gankit.load``)."""
    if not run_dirs:
        raise ConfigError("gankit serve needs at least one run directory")
    explorer = Explorer([load(path, device=device) for path in run_dirs])
    app = Flask(__name__, static_folder="static", static_url_path="/static")
    app.config["MAX_CONTENT_LENGTH"] = MAX_UPLOAD_BYTES
    app.extensions["gankit_explorer"] = explorer
    add_error_handlers(app)
    add_routes(app, explorer)
    return app


def add_error_handlers(app: Flask) -> None:
    """Every error goes back as JSON {'error': message}, which the page shows in its error box."""

    @app.errorhandler(GankitError)
    def gankit_error(error: GankitError) -> tuple[Response, int]:
        return jsonify(error=str(error)), 404 if isinstance(error, NotFound) else 400

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> tuple[Response, int]:
        return jsonify(error=f"{error.name}: {error.description}"), error.code or 500

    @app.errorhandler(Exception)
    def unexpected(error: Exception) -> tuple[Response, int]:  # a bug, not bad input: say so rather than hide it
        app.logger.exception("gankit serve: unexpected error")
        return jsonify(error=f"internal error ({type(error).__name__}: {error}); please report it"), 500


def add_routes(app: Flask, explorer: Explorer) -> None:
    """The page, its JSON endpoints and the runs' files."""

    @app.get("/")
    def index() -> Response:
        return app.send_static_file("index.html")

    @app.get("/api/runs")
    def runs() -> Response:
        return jsonify(runs=explorer.described)

    @app.get("/api/runs/<index>")
    def run_info(index: str) -> Response:
        run = explorer.run(index)
        return jsonify(**explorer.described[int(index)], **explore.run_state(run))

    @app.get("/api/runs/<index>/sample")
    def sample(index: str) -> Response:
        run, args = explorer.run(index), request.args
        n = int_arg(args, "n", 16, 1, MAX_SAMPLES)
        latent_args = dict(seed=int_arg(args, "seed", 0, 0, 2 ** 63 - 1), label=class_arg(run, args),
                           truncation=float_arg(args, "truncation", 0, 1, low_open=True, hint=" (1: none)"),
                           direction=direction_arg(args), temperature=float_arg(args, "temperature", 0.05, 10))
        return jsonify(explorer.call(lambda: explore.render(run, explore.sample_latent(run, n, **latent_args))))

    @app.get("/api/runs/<index>/interpolate")
    def interpolate(index: str) -> Response:
        run, args = explorer.run(index), request.args
        seeds = int_arg(args, "a", 0, 0, 2 ** 63 - 1), int_arg(args, "b", 1, 0, 2 ** 63 - 1)
        steps = int_arg(args, "steps", 8, 2, MAX_STEPS)
        label = class_arg(run, args)
        truncation = float_arg(args, "truncation", 0, 1, low_open=True, hint=" (1: none)")
        return jsonify(explorer.call(lambda: explore.render(
            run, explore.between(run, *seeds, steps, label=label, truncation=truncation), nrow=steps)))

    @app.get("/api/runs/<index>/walk")
    def walk(index: str) -> Response:
        run, args = explorer.run(index), request.args
        code = args.get("code", "")
        seed, rows = int_arg(args, "seed", 0, 0, 2 ** 63 - 1), int_arg(args, "rows", 4, 1, 8)
        steps = int_arg(args, "steps", 8, 2, MAX_STEPS)
        return jsonify(explorer.call(explore.code_walk, run, code, seed=seed, rows=rows, steps=steps))

    @app.post("/api/runs/<index>/upload")
    def upload(index: str) -> Response:
        run = explorer.run(index)
        channels, size = explore.upload_shape(run)
        file = request.files.get("image")
        if file is None or not file.filename:
            raise RequestError("no image uploaded: send one file in the form field 'image'")
        image = read_upload(file.read(), file.filename, channels=channels, size=size)  # in memory, never on disk
        to = request.form.get("to") or None
        return jsonify(explorer.call(explore.apply_upload, run, image, to))

    @app.get("/runs/<index>/report.html")
    def report(index: str) -> Response:
        from gankit.report import report_page

        run = explorer.run(index)
        written = run.path / "report.html"
        if written.is_file():
            return send_file(written, mimetype="text/html")
        return Response(report_page(run.path), mimetype="text/html")  # built in memory: the run stays untouched

    @app.get("/runs/<index>/file")
    def run_file(index: str) -> Response:
        run = explorer.run(index)
        return send_file(file_in_run(run, request.args.get("path", "")))


def check_port(host: str, port: int) -> None:
    """ConfigError when ``host``:``port`` cannot be bound (in use, or not an address of this machine)."""
    try:
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.bind((host, port))
    except (OSError, OverflowError) as e:  # OverflowError: a port outside 0..65535
        raise ConfigError(f"cannot listen on {host}:{port} ({getattr(e, 'strerror', None) or e}): is another server using the port? "
                          "Pick another with --port") from None


def serve(run_dirs: list[str], *, host: str = "127.0.0.1", port: int = 7860, device: str = "auto") -> None:
    """Serve the explorer until interrupted: the port is checked before any run is loaded."""
    from werkzeug.serving import make_server

    check_port(host, port)
    app = create_app(run_dirs, device=device)
    try:
        server = make_server(host, port, app, threaded=True)
    except OSError:  # taken while the runs loaded
        check_port(host, port)
        raise
    shown = f"[{host}]" if ":" in host else host
    print(f"gankit explorer: {len(run_dirs)} run(s) at http://{shown}:{port}/ (Ctrl-C stops it)", flush=True)
    server.serve_forever()  # werkzeug's: returns on Ctrl-C, the socket closed


__all__ = ["create_app", "serve", "check_port"]
