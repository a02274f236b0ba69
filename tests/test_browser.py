"""The report and the web app in a real browser: Debian's Chromium, driven headless by Playwright.

CI installs Chromium (`.ci/run`) and sets SCALINGLAWS_BROWSER=required, so there these tests fail
rather than skip when the browser is missing. Elsewhere they skip without it.
"""

import os
import shutil
import socket
import threading
import time

import numpy as np
import pytest
from typer.testing import CliRunner

import scalinglaws as sl
from scalinglaws.cli import app

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
if CHROMIUM is None:
    if os.environ.get("SCALINGLAWS_BROWSER") == "required":
        raise RuntimeError("SCALINGLAWS_BROWSER=required but no chromium on PATH (apt-get install chromium)")
    pytest.skip("no chromium on PATH", allow_module_level=True)
try:
    from playwright.sync_api import sync_playwright
except ImportError:
    if os.environ.get("SCALINGLAWS_BROWSER") == "required":
        raise
    pytest.skip("playwright is not installed", allow_module_level=True)

pytestmark = pytest.mark.xdist_group("browser")  # one worker: one browser, one server
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
TARGET = {"N": 7e10, "D": 1.4e12}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def server():
    import uvicorn

    from scalinglaws.web import create_app

    port = _free_port()
    srv = uvicorn.Server(uvicorn.Config(create_app(max_upload=200_000), host="127.0.0.1", port=port,
                                        log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    for _ in range(200):
        if srv.started:
            break
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(timeout=10)


@pytest.fixture()
def page(browser):
    pg = browser.new_page(viewport={"width": 1280, "height": 900})
    problems = []
    pg.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    pg.on("pageerror", lambda e: problems.append(str(e)))
    pg.on("request", lambda r: problems.append(f"fetched {r.url}") if not r.url.startswith(
        ("http://127.0.0.1", "file://", "data:")) else None)
    yield pg
    pg.close()
    assert problems == []  # no console error, no uncaught exception, no fetch beyond this machine


def _chinchilla_csv(tmp_path):
    path = tmp_path / "chinchilla_runs.csv"
    sl.load_dataset("chinchilla").table.to_csv(path, index=False)
    return path


def test_upload_fit_and_forecast_equal_the_python_api(page, server, tmp_path):
    path = _chinchilla_csv(tmp_path)
    page.goto(server)
    page.set_input_files("#file", str(path))
    page.wait_for_selector("#law option[value=chinchilla]", state="attached")
    page.select_option("#law", "chinchilla")
    page.fill("#at-N", "7e10")
    page.fill("#at-D", "1.4e12")
    page.fill("#compute", "5.88e23")
    page.fill("#bootstrap", "50")
    page.click("#fit")
    page.wait_for_selector("#forecast-interval", timeout=120_000)
    shown = float(page.get_attribute("#forecast-value", "data-value"))
    expected = sl.fit("chinchilla", sl.read_runs(path), bootstrap=50, rng=0)
    assert shown == pytest.approx(float(expected.predict({k: [v] for k, v in TARGET.items()})[0]), rel=1e-9)
    lo, hi = expected.predict_interval({k: [v] for k, v in TARGET.items()}, level=0.9)
    assert page.inner_text("#forecast-interval") == \
        f"90% prediction interval [{float(lo[0]):.4g}, {float(hi[0]):.4g}]"
    assert page.get_attribute("#fit-title", "data-status") == "converged"
    figures = page.eval_on_selector_all("img[data-figure]", "els => els.map(e => [e.dataset.figure, e.naturalWidth])")
    assert sorted(name for name, _ in figures) == ["fit", "frontier", "plan", "residuals"]
    assert all(width > 300 for _, width in figures)
    plan_rows = page.eval_on_selector_all("#plan tr", "els => els.length")
    assert plan_rows == 2  # the header and the one budget


def test_a_bad_csv_shows_the_clis_message_in_the_page(page, server, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("size,score\n1,2\n3,4\n")
    page.goto(server)
    page.set_input_files("#file", str(bad))
    page.wait_for_selector("#law option[value=chinchilla]", state="attached")
    page.select_option("#law", "chinchilla")
    page.click("#fit")
    # the page's own fit of the default law (auto) may answer first: wait for chinchilla's message
    page.locator("#error", has_text="column `N` not found").wait_for()
    cli = CliRunner().invoke(app, ["fit", str(bad), "--law", "chinchilla"])
    assert cli.exit_code == 1
    message = page.inner_text("#error")
    assert "column `N` not found" in message and "Traceback" not in message
    assert cli.stderr.strip() == f"error: {message}".replace(str(bad), "bad.csv")


def test_an_upload_over_the_limit_and_a_file_of_another_kind_are_refused_in_the_page(page, server, tmp_path):
    big = tmp_path / "big.csv"
    big.write_text("N,D,loss\n" + "1,2,3\n" * 40_000)  # 240 kB, over the test server's 200 kB
    page.goto(server)
    page.set_input_files("#file", str(big))
    page.wait_for_selector("#error:not([hidden])")
    assert "the limit is 0.2 MB" in page.inner_text("#error")
    other = tmp_path / "runs.exe"
    other.write_bytes(b"MZ")
    page.set_input_files("#file", str(other))
    page.locator("#error", has_text="extension `.exe`").wait_for()
    assert "supported: .csv" in page.inner_text("#error")


def test_a_bundled_dataset_and_law_auto(page, server):
    page.goto(server)
    page.wait_for_selector("#dataset option[value=chinchilla]", state="attached")
    page.select_option("#dataset", "chinchilla")
    page.wait_for_selector("#law option[value=auto]", state="attached")
    page.select_option("#law", "auto")
    page.fill("#bootstrap", "0")
    page.click("#fit")
    page.wait_for_selector("#fit-title", timeout=180_000)
    assert page.inner_text("#fit-title").startswith("Fit: chinchilla")
    assert page.eval_on_selector_all("img[data-figure=fit]", "els => els[0].naturalWidth") > 300


def test_the_report_renders_every_figure_in_chromium(browser, tmp_path):
    out = tmp_path / "report.html"
    res = CliRunner().invoke(app, ["report", "chinchilla", "--law", "chinchilla", "--at", "N=7e10,D=1.4e12",
                                   "--compute", "5.88e23", "--bootstrap", "50", "--out", str(out)])
    assert res.exit_code == 0, res.stderr
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    fetched = []
    page.on("request", lambda r: fetched.append(r.url))
    page.goto(out.as_uri())
    sizes = page.eval_on_selector_all(
        "figure svg", "els => els.map(e => [e.closest('figure').dataset.figure, e.getBoundingClientRect().width, "
                      "e.getBoundingClientRect().height])")
    names = [n for n, _, _ in sizes]
    assert names == ["fit-chinchilla", "residuals-chinchilla", "bootstrap-chinchilla", "backtest-chinchilla",
                     "frontier-chinchilla", "plan-chinchilla"]
    assert all(w > 300 and h > 150 for _, w, h in sizes)
    assert fetched == [out.as_uri()]  # one file: nothing else is fetched
    pdf = page.pdf()  # printable
    assert pdf[:4] == b"%PDF" and len(pdf) > 10_000
    page.close()


def test_serve_answers_on_loopback_only(tmp_path):
    import subprocess
    import sys
    import urllib.request

    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "scalinglaws.cli", "serve", "--port", str(port)],
                            stderr=subprocess.PIPE, text=True)
    try:
        for _ in range(200):  # wait for it to start (a bound on tries, not a speed check)
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/start", timeout=2) as r:
                    assert r.status == 200
                    break
            except OSError:
                assert proc.poll() is None, "the server exited"
                time.sleep(0.3)
        else:
            pytest.fail("the server did not answer")
        assert _listening(port) == ["127.0.0.1"]  # the kernel's own table of listening sockets
        for address in _other_addresses():  # and the machine's other addresses get no answer
            with socket.socket() as s:
                s.settimeout(2)
                assert s.connect_ex((address, port)) != 0, address
    finally:
        proc.terminate()
        _, stderr = proc.communicate(timeout=20)
    assert f"serving on http://127.0.0.1:{port} (this machine only)" in stderr


def _listening(port: int) -> list[str]:
    """The local addresses with a socket listening on ``port`` (Linux's /proc/net/tcp and tcp6)."""
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = open(table).read().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.split(":")
            if state == "0A" and int(hex_port, 16) == port:  # LISTEN
                found.append(".".join(str(b) for b in bytes.fromhex(address)[::-1]) if len(address) == 8 else address)
    return found


def _other_addresses() -> list[str]:
    """This machine's IPv4 addresses other than loopback (from `hostname -I`, else the resolver)."""
    import subprocess

    try:
        found = subprocess.run(["hostname", "-I"], capture_output=True, text=True, timeout=5).stdout.split()
    except OSError:
        found = []
    if not found:
        try:
            found = [socket.gethostbyname(socket.gethostname())]
        except OSError:
            found = []
    return [a for a in found if "." in a and not a.startswith("127.")]
