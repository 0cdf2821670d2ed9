"""``gankit serve``: every endpoint through Flask's test client (samples equal the run's own, bad requests get a
400 and a message, nothing outside the runs is sent), the CLI's bad input, and the page end to end in headless
Chromium (a click draws new samples, a bad request shows an error, nothing on disk changes), which also checks
that every picture of report.html and compare.html is there and decodes."""
from __future__ import annotations

import base64
import hashlib
import io
import json
import shutil
import socket
import threading
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import gankit
from gankit.cli import main
from gankit.imageio import read_upload
from gankit.report import symptoms as read_symptoms
from gankit.serve import create_app
from gankit.serve.explore import Direction, between, sample_latent
from gankit.train.rundir import RunDir
from gankit.viz import picture
from tests.test_conformance import tiny_overrides, train_tiny

CHROMIUM = Path("/usr/bin/chromium")
NO_CHROMIUM = "headless Chromium not installed (apt-get install chromium)"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
# one of each kind the page treats differently: conditional, InfoGAN codes, an encoder, translation (two domains),
# inpainting, text, and 2D points (evaluated below)
PRESETS = ("cgan", "infogan", "bigan", "cyclegan", "context-encoder", "mle", "gan")
# a symptom as the trainer writes it to symptoms.json (tests/test_symptoms.py measures a real one)
SYMPTOM = {"name": "class_imbalance", "began": 1, "detected": 2, "ended": None,
           "description": "the generator favours a few classes", "evidence": {"classes": 10, "rarest share x classes": 0.0}}


@pytest.fixture(scope="module")
def run_dirs(tmp_path_factory) -> dict[str, Path]:  # noqa: ANN001
    """The tiny runs, trained once; the points run evaluated twice (two eval rows with their protocol)."""
    root = tmp_path_factory.mktemp("serve")
    dirs = {p: train_tiny(p, tiny_overrides(p), root / p).path for p in PRESETS}
    points = gankit.load(dirs["gan"], device="cpu")
    for seed in (1, 2):
        points.evaluate("modes", n=200, seed=seed)
    (dirs["cgan"] / "symptoms.json").write_text(json.dumps([SYMPTOM]))
    return dirs


@pytest.fixture(scope="module")
def app(run_dirs):  # noqa: ANN001, ANN201
    return create_app([run_dirs[p] for p in PRESETS], device="cpu")


@pytest.fixture(scope="module")
def client(app):  # noqa: ANN001, ANN201
    return app.test_client()


def index(preset: str) -> int:
    return PRESETS.index(preset)


def loaded(app, preset: str) -> gankit.Run:  # noqa: ANN001
    """The app's own Run of ``preset``: what the server samples from."""
    return app.extensions["gankit_explorer"].runs[index(preset)]


def pixels(data_uri: str) -> torch.Tensor:
    """A PNG data URI -> (3, H, W) uint8, as the pictures of gankit.viz."""
    assert data_uri.startswith("data:image/png;base64,")
    image = Image.open(io.BytesIO(base64.b64decode(data_uri.split(",", 1)[1])))
    return torch.from_numpy(np.asarray(image.convert("RGB")).copy()).permute(2, 0, 1)


def png_bytes(size: tuple[int, int] = (20, 12), colour: tuple[int, int, int] = (200, 30, 90)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, format="PNG")
    return buffer.getvalue()


def tree_hash(*roots: Path) -> str:
    """Every file's path and bytes under ``roots``: equal before and after means nothing on disk changed."""
    digest = hashlib.sha256()
    for root in roots:
        for path in sorted(root.rglob("*")):
            digest.update(str(path).encode())
            if path.is_file():
                digest.update(path.read_bytes())
    return digest.hexdigest()


def get_image(client, url: str) -> torch.Tensor:  # noqa: ANN001
    response = client.get(url)
    assert response.status_code == 200, response.get_json()
    return pixels(response.get_json()["image"])


def test_runs_are_described_with_their_controls_evaluations_and_symptoms(client, run_dirs) -> None:  # noqa: ANN001
    runs = {r["preset"]: r for r in client.get("/api/runs").get_json()["runs"]}
    assert list(runs) == list(PRESETS)
    assert (runs["cgan"]["classes"], runs["cgan"]["truncates"], runs["cgan"]["noise"], runs["cgan"]["z_size"]) == (10, True, True, 8)
    assert runs["infogan"]["codes"] == ["cat0", "cont0", "cont1"] and not runs["infogan"]["truncates"]
    assert [runs[p]["upload"] for p in ("bigan", "cyclegan", "context-encoder", "cgan")] == ["reconstruct", "translate", "inpaint", None]
    assert runs["cyclegan"]["domains"] == ["A", "B"] and not runs["cyclegan"]["noise"]
    assert runs["mle"]["text"] and not runs["cgan"]["text"]
    points = client.get(f"/api/runs/{index('gan')}").get_json()
    logged = [r for r in RunDir(run_dirs["gan"]).rows() if r.get("kind") == "eval"]
    assert [e["protocol"] for e in points["evaluations"]] == [r["protocol"] for r in logged] and len(logged) == 2
    assert [e["scores"]["high_quality"] for e in points["evaluations"]] == [r["eval/high_quality"] for r in logged]
    assert [e["protocol"]["seed"] for e in points["evaluations"]] == [1, 2]
    assert points["samples"] == ["samples/step_0000002.png"] and points["symptoms"] == []
    cgan = client.get(f"/api/runs/{index('cgan')}").get_json()
    assert cgan["symptoms"] == read_symptoms(RunDir(run_dirs["cgan"])) == [SYMPTOM] and cgan["evaluations"] == []


def test_samples_are_the_runs_own_and_follow_seed_class_and_truncation(app, client) -> None:  # noqa: ANN001
    run, url = loaded(app, "cgan"), f"/api/runs/{index('cgan')}/sample"
    seed3 = get_image(client, f"{url}?seed=3&n=4")
    assert torch.equal(seed3, run.grid(4, seed=3))
    assert torch.equal(get_image(client, f"{url}?seed=3&n=4&amount=0"), seed3)  # the slider at rest
    assert not torch.equal(get_image(client, f"{url}?seed=4&n=4"), seed3)
    assert torch.equal(get_image(client, f"{url}?seed=3&n=4&class=2"), run.grid(4, labels=2, seed=3))
    assert torch.equal(get_image(client, f"{url}?seed=3&n=4&truncation=0.5"), run.grid(4, seed=3, truncation=0.5))
    text = loaded(app, "mle")
    answer = client.get(f"/api/runs/{index('mle')}/sample?seed=3&n=4&temperature=0.7").get_json()
    assert answer["sentences"] == text.sentences(4, seed=3, temperature=0.7) and len(answer["sentences"]) == 4


def test_the_slider_moves_z_by_a_unit_direction(app, client) -> None:  # noqa: ANN001
    run = loaded(app, "cgan")
    plain = run.latent(4, seed=3)
    moved = sample_latent(run, 4, seed=3, direction=Direction(1.5, seed=7))
    step = moved.z - plain.z  # the same vector of length 1.5 added to every sample
    torch.testing.assert_close(step.norm(dim=1), torch.full((4,), 1.5), atol=1e-5, rtol=0)
    torch.testing.assert_close(step, step[:1].expand(4, -1), atol=1e-6, rtol=0)
    assert torch.equal(moved.y, plain.y)
    axis = sample_latent(run, 4, seed=3, direction=Direction(-2.0, dim=5)).z - plain.z
    torch.testing.assert_close(axis, torch.zeros(4, 8).index_fill_(1, torch.tensor([5]), -2.0), atol=1e-6, rtol=0)
    shown = get_image(client, f"/api/runs/{index('cgan')}/sample?seed=3&n=4&amount=1.5&direction_seed=7")
    assert torch.equal(shown, picture(run.recipe.generate(moved)))
    by_dim = get_image(client, f"/api/runs/{index('cgan')}/sample?seed=3&n=4&amount=-2&direction=dim&dim=5")
    assert not torch.equal(by_dim, shown)


def test_interpolation_runs_from_sample_a_to_sample_b(app, client) -> None:  # noqa: ANN001
    run = loaded(app, "cgan")
    latent = between(run, 11, 12, 5, label=3)
    walk = run.recipe.generate(latent)
    torch.testing.assert_close(walk[0], run.sample(1, labels=3, seed=11)[0], atol=1e-5, rtol=0)
    torch.testing.assert_close(walk[-1], run.sample(1, labels=3, seed=12)[0], atol=1e-5, rtol=0)
    shown = get_image(client, f"/api/runs/{index('cgan')}/interpolate?a=11&b=12&steps=5&class=3")
    assert torch.equal(shown, picture(walk, nrow=5))
    infogan = loaded(app, "infogan")
    code = get_image(client, f"/api/runs/{index('infogan')}/walk?code=cont0&seed=5&rows=2&steps=4")
    assert torch.equal(code, picture(infogan.interpolate(2, 4, code="cont0", seed=5), nrow=4))


def test_uploads_are_translated_reconstructed_and_inpainted_in_memory(app, client, run_dirs) -> None:  # noqa: ANN001
    before = tree_hash(*run_dirs.values())
    for preset, task in (("cyclegan", "translate"), ("bigan", "reconstruct"), ("context-encoder", "inpaint")):
        run = loaded(app, preset)
        form = {"image": (io.BytesIO(png_bytes()), "mine.png")}
        answer = client.post(f"/api/runs/{index(preset)}/upload", data=form).get_json()
        assert answer["task"] == task, answer
        image = read_upload(png_bytes(), "mine.png", channels=1, size=(16, 16))
        out = getattr(run, task)(image)
        assert torch.equal(pixels(answer["image"]), picture(torch.cat([image, out]), nrow=2)), preset
    to_a = client.post(f"/api/runs/{index('cyclegan')}/upload", data={"image": (io.BytesIO(png_bytes()), "m.png"), "to": "A"})
    image = read_upload(png_bytes(), "m.png", channels=1, size=(16, 16))
    expected = picture(torch.cat([image, loaded(app, "cyclegan").translate(image, to="A")]), nrow=2)
    assert torch.equal(pixels(to_a.get_json()["image"]), expected)
    assert tree_hash(*run_dirs.values()) == before  # nothing saved, in the runs or beside them


BAD_REQUESTS = [  # (preset, request, status, part of the message)
    ("cgan", "sample?class=12", 400, "class 12 does not exist: this run has 10 classes, 0..9"),
    ("cgan", "sample?class=-1", 400, "class -1 does not exist"),
    ("cgan", "sample?class=two", 400, "class must be a whole number; got 'two'"),
    ("gan", "sample?class=1", 400, "preset 'gan' is not conditional"),
    ("cgan", "sample?seed=abc", 400, "seed must be a whole number; got 'abc'"),
    ("cgan", "sample?seed=-3", 400, "seed must be in 0.."),
    ("cgan", "sample?n=0", 400, "n must be in 1..64; got 0"),
    ("cgan", "sample?n=65", 400, "n must be in 1..64; got 65"),
    ("cgan", "sample?truncation=0", 400, "truncation must be in (0, 1] (1: none); got 0"),
    ("cgan", "sample?truncation=1.5", 400, "truncation must be in (0, 1]"),
    ("cgan", "sample?truncation=high", 400, "truncation must be a number; got 'high'"),
    ("infogan", "sample?truncation=0.5", 400, "InfoGAN cannot truncate its latent"),
    ("cgan", "sample?temperature=0.5", 400, "has no sampling temperature"),
    ("cgan", "sample?amount=11", 400, "amount must be in [-10, 10]; got 11"),
    ("cgan", "sample?amount=1&direction=sideways", 400, "direction must be 'random' or 'dim'; got 'sideways'"),
    ("cgan", "sample?amount=1&direction=dim&dim=8", 400, "dim=8: this run's z has 8 entries per sample; pick 0..7"),
    ("cyclegan", "sample?amount=1", 400, "preset 'cyclegan' takes images as G's input: it has no latent space"),
    ("cyclegan", "interpolate?a=1&b=2", 400, "it has no latent space to move along or interpolate in"),
    ("cgan", "interpolate?steps=1", 400, "steps must be in 2..16; got 1"),
    ("infogan", "walk?code=cont9", 400, "unknown code 'cont9'; this InfoGAN has cat0, cont0, cont1"),
    ("cgan", "walk?code=cat0", 400, "preset 'cgan' has no latent codes"),
]


def test_bad_requests_get_a_400_and_a_clear_message(client) -> None:  # noqa: ANN001
    for preset, path, status, message in BAD_REQUESTS:
        response = client.get(f"/api/runs/{index(preset)}/{path}")
        assert (response.status_code, response.is_json) == (status, True), (path, response.data[:200])
        assert message in response.get_json()["error"], (path, response.get_json())
    for bad in ("7", "x", "-1"):
        response = client.get(f"/api/runs/{bad}/sample")
        assert response.status_code == 400
        assert response.get_json()["error"] == f"run '{bad}' does not exist: this server has 7 run(s), 0..6"
    uploads = [("bigan", {"image": (io.BytesIO(b"GIF89a not really"), "fake.gif")}, "cannot read image fake.gif"),
               ("bigan", {}, "no image uploaded: send one file in the form field 'image'"),
               ("cgan", {"image": (io.BytesIO(png_bytes()), "a.png")}, "preset 'cgan' generates from noise: uploads are for"),
               ("cyclegan", {"image": (io.BytesIO(png_bytes()), "a.png"), "to": "C"}, "unknown domain 'C'")]
    for preset, form, message in uploads:
        response = client.post(f"/api/runs/{index(preset)}/upload", data=form)
        assert response.status_code == 400 and message in response.get_json()["error"], response.get_json()
    too_big = client.post(f"/api/runs/{index('bigan')}/upload",
                          data={"image": (io.BytesIO(b"0" * (9 * 1024 * 1024)), "huge.png")})
    assert too_big.status_code == 413 and "Too Large" in too_big.get_json()["error"]


def test_only_files_inside_the_runs_are_sent(app, client, run_dirs, tmp_path) -> None:  # noqa: ANN001
    url = f"/runs/{index('gan')}/file"
    grid = client.get(f"{url}?path=samples/step_0000002.png")
    assert grid.status_code == 200 and grid.data == (run_dirs["gan"] / "samples/step_0000002.png").read_bytes()
    outside = tmp_path / "secret.txt"
    outside.write_text("not yours")
    link = run_dirs["mle"] / "link.txt"
    link.symlink_to(outside)  # a link inside a run to a file outside it
    try:
        for path in ("../../etc/passwd", "/etc/passwd", f"../{run_dirs['cgan'].name}/config.yaml", "link.txt"):
            runs = index("mle") if path == "link.txt" else index("gan")
            response = client.get(f"/runs/{runs}/file", query_string={"path": path})
            assert response.status_code == 404, path
            assert "is outside the run directory" in response.get_json()["error"], path
    finally:
        link.unlink()
    missing = client.get(f"{url}?path=samples/none.png")
    assert missing.status_code == 404 and "no such file in the run directory" in missing.get_json()["error"]
    assert client.get(f"{url}?path=").status_code == 404
    report = client.get(f"/runs/{index('gan')}/report.html")
    assert report.status_code == 200 and report.data == (run_dirs["gan"] / "report.html").read_bytes()


def test_a_missing_report_is_built_in_memory(run_dirs, tmp_path) -> None:  # noqa: ANN001
    copy = shutil.copytree(run_dirs["gan"], tmp_path / "gan")
    (copy / "report.html").unlink()
    page = create_app([copy], device="cpu").test_client().get("/runs/0/report.html")
    assert page.status_code == 200 and page.mimetype == "text/html"
    assert b"<h2>Evaluation</h2>" in page.data and b"Protocol of the latest evaluation" in page.data
    assert not (copy / "report.html").exists()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_serve_cli_refuses_a_port_in_use_and_a_path_that_is_not_a_run(run_dirs, tmp_path, capsys) -> None:  # noqa: ANN001
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["serve", str(run_dirs["gan"]), "--port", str(port)]) == 2
        assert f"cannot listen on 127.0.0.1:{port}" in capsys.readouterr().err
    port = free_port()
    assert main(["serve", str(run_dirs["gan"]), str(tmp_path), "--port", str(port)]) == 2
    assert f"{tmp_path} is not a gankit run directory (no config.yaml)" in capsys.readouterr().err
    with socket.socket() as again:
        again.bind(("127.0.0.1", port))  # nothing was left listening
    assert main(["serve", str(run_dirs["gan"]), "--port", "70000"]) == 2
    assert "cannot listen on 127.0.0.1:70000" in capsys.readouterr().err


# --- end to end, in a real browser --------------------------------------------------------------------------
IMAGES_DECODED = "[...document.images].map(i => i.complete && i.naturalWidth > 0)"


@pytest.fixture
def served(app):  # noqa: ANN001, ANN201
    """The app on 127.0.0.1 (a free port) in a background thread, for the browser."""
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join()


@pytest.mark.skipif(not CHROMIUM.is_file(), reason=NO_CHROMIUM)
def test_the_page_end_to_end_in_headless_chromium(served, client, run_dirs, tmp_path) -> None:  # noqa: ANN001
    from playwright.sync_api import sync_playwright

    assert main(["report", str(run_dirs["gan"])]) == 0
    compare = tmp_path / "compare.html"
    assert main(["compare", str(run_dirs["gan"]), str(run_dirs["cgan"]), "--out", str(compare)]) == 0
    before = tree_hash(*run_dirs.values())
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            explore_in_the_page(page, served, client)
            check_pictures(page, served + f"/runs/{index('gan')}/report.html", expected_report_pictures(run_dirs["gan"]))
            check_pictures(page, compare.as_uri(), expected_compare_pictures([run_dirs["gan"], run_dirs["cgan"]]))
        finally:
            browser.close()
    assert tree_hash(*run_dirs.values()) == before  # the server wrote nothing, also on the bad request


def explore_in_the_page(page, url: str, client) -> None:  # noqa: ANN001
    """Load the page, draw with a new seed, get an error for a class the run lacks, upload an image."""
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(url)
    page.wait_for_selector("body[data-ready=true]")
    assert page.locator("#about").inner_text().startswith("cgan (recipe gan) on digits")
    first = page.get_attribute("#samples", "src")
    assert first == client.get(f"/api/runs/{index('cgan')}/sample?seed=0&n=16").get_json()["image"]
    page.fill("#seed", "5")
    page.click("#draw")
    page.wait_for_function("first => document.getElementById('samples').src !== first", arg=first)
    drawn = page.get_attribute("#samples", "src")
    assert drawn != first and drawn == client.get(f"/api/runs/{index('cgan')}/sample?seed=5&n=16").get_json()["image"]
    assert page.evaluate("document.getElementById('samples').naturalWidth") > 0
    assert page.locator("#symptoms").inner_text().startswith("symptom")  # the cgan run's symptoms.json, as a table
    page.fill("#class", "12")
    page.click("#draw")
    page.wait_for_selector("#error:not([hidden])")
    assert page.inner_text("#error") == "class 12 does not exist: this run has 10 classes, 0..9"
    assert page.get_attribute("#samples", "src") == drawn  # the last good samples stay
    page.select_option("#run", str(index("bigan")))
    page.wait_for_selector("#upload-section:not([hidden])")
    page.set_input_files("#upload-file", files=[{"name": "mine.png", "mimeType": "image/png", "buffer": png_bytes()}])
    page.click("#upload")
    page.wait_for_selector("#upload-image:not([hidden])")
    assert page.evaluate("document.getElementById('upload-image').naturalWidth") > 0
    assert page.is_hidden("#error") and errors == []


def check_pictures(page, url: str, expected: int) -> None:  # noqa: ANN001
    """Every <img> of the page at ``url`` is loaded and decoded, and there are ``expected`` of them."""
    page.goto(url)
    page.wait_for_load_state("load")
    decoded = page.evaluate(IMAGES_DECODED)
    assert decoded == [True] * expected, (url, decoded)


def expected_report_pictures(run_dir: Path) -> int:
    """report.html: the evaluation-score curves (two evaluations), the losses, the symptom signals, and each
    sample grid training kept (here fewer than the six the report picks)."""
    grids = list((run_dir / "samples").glob("step_*.png"))
    assert 0 < len(grids) <= 6
    return 3 + len(grids)


def expected_compare_pictures(run_dirs: list[Path]) -> int:
    """compare.html: one curve per score evaluated more than once (the points run's modes, high_quality,
    reverse_kl), one per G loss (at most three), and each run's last sample grid."""
    rows = [RunDir(d).rows() for d in run_dirs]
    scores = {k for r in rows[0] for k in r if k.startswith("eval/") and not k.endswith("_std")}
    assert scores == {"eval/modes", "eval/high_quality", "eval/reverse_kl"}
    g_losses = {k for rs in rows for r in rs if r.get("kind") != "eval" for k in r if k.startswith("G/")}
    return len(scores) + min(len(g_losses), 3) + len(run_dirs)
