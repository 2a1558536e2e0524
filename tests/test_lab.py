"""`make lab` serves the course offline, and `make course` exports pages with outputs."""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get_json(url: str):
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.load(response)


@pytest.mark.slow
def test_make_lab_serves_the_notebooks(tmp_path):
    port, token = free_port(), secrets.token_hex(8)
    args = f"--no-browser --ip=127.0.0.1 --port={port} --ServerApp.token={token} --ServerApp.port_retries=0"
    env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"), "JUPYTER_CONFIG_DIR": str(tmp_path / "config")}
    lab = subprocess.Popen(["make", "--no-print-directory", "lab", f"LAB_ARGS={args}"], cwd=ROOT, env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 90
        listing = None
        while time.monotonic() < deadline and lab.poll() is None:
            try:
                listing = get_json(f"{base}/api/contents/notebooks?token={token}")
                break
            except OSError:
                time.sleep(1)
        assert listing is not None, lab.stdout.read().decode(errors="replace")[-3000:] if lab.poll() is not None else "no answer"
        names = {item["name"] for item in listing["content"]}
        assert "00_welcome.ipynb" in names
        with urllib.request.urlopen(f"{base}/lab/tree/notebooks/00_welcome.ipynb?token={token}", timeout=10) as page:
            assert page.status == 200 and b"JupyterLab" in page.read()
        extensions = urllib.request.urlopen(f"{base}/lab/api/extensions?token={token}", timeout=10).read()
        assert b"jupyterlab-rise" in extensions or b"jupyterlab_rise" in extensions
    finally:
        if lab.poll() is None:
            os.killpg(lab.pid, signal.SIGTERM)
            try:
                lab.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(lab.pid, signal.SIGKILL)


@pytest.mark.slow
def test_course_export_writes_html_with_outputs(tmp_path):
    from cnnlab import course

    written = course.export_html([ROOT / "notebooks" / "00_welcome.ipynb"], tmp_path, quick=True)
    assert written == [tmp_path / "00_welcome.html"]
    page = written[0].read_text()
    assert "150,528 inputs" in page                 # a printed output
    assert "data:image/png;base64" in page          # the image grid
