"""`make lab` serves the learner's workspace offline, and `make course` exports pages with outputs."""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from course_copy import VENV, course_repository, learner_clone

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get_json(url: str):
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.load(response)


@pytest.mark.slow
def test_make_lab_serves_the_workspace(tmp_path):
    """In a fresh clone, `make lab` creates work/ and serves it; its printed URL is lesson 00 there."""
    if not (VENV / ".cnnlab-installed").exists():
        pytest.skip("make lab in a clone borrows the .venv that make creates here")
    clone = learner_clone(course_repository(tmp_path / "upstream"), tmp_path / "learner")
    port = free_port()
    args = f"--no-browser --ip=127.0.0.1 --port={port} --ServerApp.port_retries=0 --LabApp.workspaces_dir={tmp_path / 'ws'}"
    env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"), "JUPYTER_CONFIG_DIR": str(tmp_path / "config")}
    log = tmp_path / "lab.log"
    with open(log, "wb") as sink:
        lab = subprocess.Popen(["make", "--no-print-directory", "lab", f"LAB_ARGS={args}"], cwd=clone, env=env,
                               stdout=sink, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 90
        printed = None
        while printed is None and time.monotonic() < deadline and lab.poll() is None:   # the URL a learner copies
            printed = re.search(rf"{re.escape(base)}(/\S*)\?token=(\w+)", log.read_text(errors="replace"))
            time.sleep(0.5)
        assert printed, log.read_text(errors="replace")[-3000:]
        path, token = printed.groups()
        assert path == "/lab/tree/notebooks/00_welcome.ipynb"
        listing = get_json(f"{base}/api/contents/notebooks?token={token}")
        assert "00_welcome.ipynb" in {item["name"] for item in listing["content"]}
        assert (clone / "work" / "notebooks" / "00_welcome.ipynb").exists()     # served from work/
        with urllib.request.urlopen(printed.group(0), timeout=10) as page:
            assert page.status == 200 and b"JupyterLab" in page.read()
        extensions = urllib.request.urlopen(f"{base}/lab/api/extensions?token={token}", timeout=10).read()
        assert b"jupyterlab-rise" in extensions or b"jupyterlab_rise" in extensions
        assert "created: work/" in log.read_text(errors="replace")
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
