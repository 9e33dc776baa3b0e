"""Shared test set-up: CPU only, deterministic, no network."""

import json
import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import pytest  # noqa: E402
import torch  # noqa: E402


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
    yield


# ---------------------------------------------------------------------------------------------------------
# Browser tests: one Streamlit server for the whole session, driven by Debian's Chromium via Playwright.
# ---------------------------------------------------------------------------------------------------------
import contextlib  # noqa: E402
import shutil  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import urllib.request  # noqa: E402
from pathlib import Path  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = REPO / "test-artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def streamlit_server(log_path: Path | None = None, env: dict | None = None, launcher: tuple[str, ...] = ("-m", "streamlit")):
    """Run ``streamlit run app.py`` on a free loopback port (with ``env`` added to the environment); yield its URL
    once healthy; stop it after. ``launcher``: what follows ``python`` instead of ``-m streamlit`` (a script that
    wraps Streamlit's command line, e.g. ``benchmarks/timed_server.py``)."""
    port = _free_port()
    log = open(log_path, "w") if log_path else subprocess.DEVNULL  # noqa: SIM115
    proc = subprocess.Popen(
        [sys.executable, *launcher, "run", "app.py", "--server.headless", "true",
         "--server.address", "127.0.0.1", "--server.port", str(port),
         "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"],
        cwd=REPO, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})},
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read() == b"ok":
                    break
            except OSError:
                time.sleep(0.3)
        else:
            pytest.fail("streamlit did not become healthy within 60 s; see test-artifacts/streamlit.log")
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        if log_path:
            log.close()


@pytest.fixture(scope="session")
def app_url():
    """One app server for the whole test session."""
    ARTIFACTS.mkdir(exist_ok=True)
    with streamlit_server(ARTIFACTS / "streamlit.log") as url:
        yield url


@pytest.fixture(scope="session")
def browser():
    """A headless Debian Chromium driven by Playwright; skipped where either is missing."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (apt-get install -y chromium)")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture()
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    pg = context.new_page()
    yield pg
    context.close()


def assert_no_exception_box(pg) -> None:
    """Fail when Streamlit shows an exception (a traceback box) on the page."""
    boxes = pg.locator('[data-testid="stException"]')
    if boxes.count():
        raise AssertionError(f"the page shows an exception: {boxes.first.inner_text()[:500]}")


def loss_chart_rows(at) -> list[dict]:
    """The rows the Train page's loss chart draws (an AppTest after a run), both layers (the validation points are
    in both): read from its spec and the named datasets Streamlit sends beside it. Other charts (the attention
    snapshots') have no "run" column and are left out."""
    import pyarrow as pa

    from ui.charts import spec_values

    rows = []
    for el in at.get("vega_lite_chart"):
        named = {ds.name: pa.ipc.open_stream(ds.data.data).read_all().to_pylist() for ds in el.proto.datasets}
        spec = json.loads(el.proto.spec)
        for layer in spec.get("layer", []):
            rows.extend(r for r in spec_values(layer, named) if "run" in r)
    return rows


def app_on_page(title: str, language: str = "en", timeout: float = 90):
    """An AppTest of the whole app (router, language, sidebar) in ``language``, switched to the page ``title``
    (as the sidebar lists it), with no exception box on the way."""
    from streamlit.testing.v1 import AppTest

    from tests.test_pages_train_generate import page_file
    from ui.i18n import SESSION_KEY

    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=timeout)
    at.session_state[SESSION_KEY] = language
    at.run()
    at.switch_page(page_file(title)).run()
    assert not at.exception, at.exception
    return at
