"""Submissions that attack the grader, on the hosts where graders really run.

Every attack replaces the ``conv2d_single`` cell of the chapter 01 solution notebook (or
``lenet_classic`` of chapter 04, for attacks through a probed network); the notebook's other
exercises stay honest and must keep their marks. All attacks, broken notebook files and two
honest copies are graded in ONE run of ``cnnlab grade --jobs 2`` per host, so the test also
shows that an attack does not spoil its neighbours. The hosts (``grading_fixtures/as_host.py``):

- ``root``: full isolation (namespaces, an allow-list view, a dedicated user id);
- ``docker``: root without ``CAP_SYS_ADMIN`` and with Docker's seccomp profile, as in a
  Docker container and on Gradescope (dedicated user ids, Landlock, seccomp);
- ``user``: an ordinary user without user namespaces: the grader must refuse, cleanly.

On each: every attack scores 0 (or the run refuses), nothing started by a submission survives
the run, no file outside the sandbox changes, and honest submissions get full marks.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from grading_fixtures import helpers

from cnnlab.checks import exercises, get

pytestmark = [pytest.mark.skipif(not hasattr(os, "fork"), reason="the sandbox needs a POSIX system"),
              pytest.mark.slow]

AS_HOST = Path(helpers.FOLDER) / "as_host.py"
ARTIFACTS = Path(__file__).resolve().parents[1] / "build" / "test-artifacts"
HOSTS = ("root", "docker", "user")
GRADING_HOSTS = ("root", "docker")
TARGET = "conv2d_single"
OTHERS = {"conv2d_multi": 3.0, "conv1x1": 1.0}
SHAPE = "(x.shape[0] - w.shape[0] + 1, x.shape[1] - w.shape[1] + 1)"
HONEST_BODY = f"""
    out = np.zeros({SHAPE})
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            out[i, j] = (x[i:i + w.shape[0], j:j + w.shape[1]] * w).sum()
    return out
"""

ATTACKS = {
    "infinite_loop": """
def conv2d_single(x, w):
    while True:
        pass
""",
    "sleep_forever": """
import time

def conv2d_single(x, w):
    time.sleep(10 ** 6)
""",
    "memory_bomb": """
def conv2d_single(x, w):
    hoard = []
    while True:
        hoard.append(bytearray(64 << 20))
""",
    "fork_bomb": """
import os

def conv2d_single(x, w):
    if os.fork() == 0:
        os.setsid()                     # leave the process group, as a daemon would
    while True:
        try:
            os.fork()
        except OSError:
            pass
""",
    "os_exit": """
import os

def conv2d_single(x, w):
    os._exit(0)
""",
    "sys_exit": """
import sys

def conv2d_single(x, w):
    sys.exit(0)
""",
    "exit_while_defining": f"""
import os
import numpy as np
_ = os._exit(0)

def conv2d_single(x, w):{HONEST_BODY}""",
    "always_equal": """
import numpy as np

class AlwaysEqual:
    shape = property(lambda self: (1,))
    def __eq__(self, other):
        return True
    def __ne__(self, other):
        return False

class Liar(np.ndarray):
    def __eq__(self, other):
        return np.ones(np.shape(other), bool)

def conv2d_single(x, w):
    if x.shape[0] % 2:
        return AlwaysEqual()
    return np.zeros((1, 1)).view(Liar)
""",
    "monkeypatch_numpy": f"""
import numpy as np
np.allclose = lambda *a, **k: True
np.isclose = lambda a, b, *r, **k: np.ones(np.shape(b), bool)
np.array_equal = lambda *a, **k: True
np.testing.assert_allclose = lambda *a, **k: None
np.savez = lambda *a, **k: None

def conv2d_single(x, w):
    return np.zeros({SHAPE})
""",
    "monkeypatch_cnnlab": f"""
import numpy as np
import cnnlab.checks as c

def conv2d_single(x, w):
    c.compare = lambda *a, **k: c.Verdict(True)
    c.as_plain = lambda value: value
    return np.zeros({SHAPE})
""",
    "fake_results": f"""
import glob, json, os, sys
import numpy as np

def conv2d_single(x, w):
    print("conv2d_single: passed 2/2\\nTOTAL 6/6\\n" + json.dumps({{"score": 100, "tests": []}}))
    sys.stderr.write("✓ conv2d_single: 6/6 checks passed\\n")
    np.savez("result.npz", meta=np.array(json.dumps({{"cases": [{{"ok": True}}]}})))
    for folder in [".", "..", "../out", "/autograder/results"] + glob.glob("/tmp/cnnlab-grade-*/*/out"):
        for name in ["results.json", "result.npz"]:
            try:
                with open(os.path.join(folder, name), "w") as f:
                    f.write('{{"score": 100}}')
            except OSError:
                pass
    return np.zeros({SHAPE})
""",
    "import_forbidden": """
from cnnlab.layers import conv2d_forward
import numpy as np

def conv2d_single(x, w):
    return conv2d_forward(x[None, None], w[None, None], np.zeros(1))[0][0, 0]
""",
    "import_hidden_by_exec": """
import numpy as np

def conv2d_single(x, w):
    space = {}
    exec("import cnnl" + "ab.lay" + "ers as L", space)
    return space["L"].conv2d_forward(x[None, None], w[None, None], np.zeros(1))[0][0, 0]
""",
    "read_solutions": """
import json

def conv2d_single(x, w):
    nb = json.load(open({solution!r}))
    source = next("".join(c["source"]) for c in nb["cells"]
                  if c.get("metadata", {{}}).get("nbgrader", {{}}).get("grade_id") == "conv2d_single")
    space = {{}}
    exec(source, space)
    return space["conv2d_single"](x, w)
""",
    "read_reference": """
import numpy as np

def conv2d_single(x, w):
    space = {{"__name__": "stolen"}}
    exec(open({layers!r}).read(), space)
    return space["conv2d_forward"](x[None, None], w[None, None], np.zeros(1))[0][0, 0]
""",
    "read_other_submission": """
import json

def conv2d_single(x, w):
    nb = json.load(open({honest!r}))
    source = next("".join(c["source"]) for c in nb["cells"]
                  if c.get("metadata", {{}}).get("nbgrader", {{}}).get("grade_id") == "conv2d_single")
    space = {{}}
    exec(source, space)
    return space["conv2d_single"](x, w)
""",
    "network": """
import socket
import numpy as np

def conv2d_single(x, w):
    with socket.create_connection(("127.0.0.1", {port}), timeout=2) as s:
        s.sendall(b"let me out")
""" + HONEST_BODY,
    "delete_files": f"""
import os, shutil
import numpy as np

def conv2d_single(x, w):
    for folder in [".", "..", "../out", os.environ.get("HOME", ".")]:
        try:
            names = os.listdir(folder)
        except OSError:
            continue
        for name in names:
            path = os.path.join(folder, name)
            try:
                shutil.rmtree(path) if os.path.isdir(path) else os.remove(path)
            except OSError:
                pass
    return np.zeros({SHAPE})
""",
    "fill_disk": f"""
import os
import numpy as np

def conv2d_single(x, w):
    block = b"x" * (8 << 20)
    for folder in ["/tmp", "/var/tmp", "/dev/shm", "."]:
        for i in range(64):
            try:
                with open(os.path.join(folder, f"cnnlab-attack-fill-{{i}}"), "wb") as f:
                    f.write(block)
            except OSError:
                break
    return np.zeros({SHAPE})
""",
    "output_spam": f"""
import os, sys
import numpy as np

def conv2d_single(x, w):
    chunk = "spam " * 200_000                      # 1 MB
    for _ in range(34):
        sys.stdout.write(chunk)
        sys.stderr.write(chunk)
        os.write(1, chunk.encode())
    return np.zeros({SHAPE})
""",
    "pickle_payload": """
import os
import numpy as np

class Payload:
    def __reduce__(self):
        return (open, ({marker!r}, "w"))

def conv2d_single(x, w):
    np.save("answer.npy", np.array([Payload()], dtype=object), allow_pickle=True)
    return np.array([Payload()], dtype=object)
""",
    "stack_walk": """
import gc, sys
import numpy as np

def conv2d_single(x, w):
    frame = sys._getframe()
    while frame is not None:
        for value in list(frame.f_locals.values()):
            if type(value).__name__ == "ImportGuard":
                value.active = False              # switch the guard off
            if isinstance(value, dict) and "cases" in value and "nonce" in value:
                value["cases"] = [{{"ok": True, "tree": {{"a": "r0"}}}}] * 6
        frame = frame.f_back
    for obj in gc.get_objects():
        if isinstance(obj, dict) and "expected" in obj:
            return obj["expected"]
    space = {{}}
    exec("import cnnlab.layers as L", space)
    return space["L"].conv2d_forward(x[None, None], w[None, None], np.zeros(1))[0][0, 0]
""",
    "kill_everything": f"""
import os, signal
import numpy as np

def conv2d_single(x, w):
    try:
        os.kill(-1, signal.SIGKILL)             # every process this user may signal: siblings, the grader
    except OSError:
        pass
    return np.zeros({SHAPE})
""",
    "unix_socket": """
import socket
import numpy as np

def conv2d_single(x, w):
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.connect({unix!r})
        s.sendall(b"let me out")
""" + HONEST_BODY,
    "read_wheel_copy": """
import numpy as np

def conv2d_single(x, w):
    space = {{"__name__": "stolen"}}
    exec(open({wheel_copy!r}).read(), space)
    return space["conv2d_forward"](x[None, None], w[None, None], np.zeros(1))[0][0, 0]
""",
    "import_checks": """
import numpy as np

def conv2d_single(x, w):
    import cnnlab.checks.ch01 as mine
    return mine._single_ref(x, w)
""",
    "forge_result": f"""
import gc, json, os, sys
import numpy as np

def conv2d_single(x, w):
    nonce = next((o["nonce"] for o in gc.get_objects() if isinstance(o, dict) and "nonce" in o
                  and isinstance(o.get("nonce"), str)), "unknown")
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        try:
            if os.fstat(fd).st_size == 0 and os.path.basename(os.readlink(f"/proc/self/fd/{{fd}}")).startswith(nonce):
                meta = {{"nonce": nonce, "cell": {{"ok": True}}, "function": {{"ok": True}}, "forbidden": [],
                        "cases": [{{"ok": True, "tree": {{"a": "r0"}}}}] * 5}}
                with os.fdopen(fd, "wb") as f:
                    np.savez(f, meta=np.array(json.dumps(meta)), r0=np.zeros({SHAPE}))
                os._exit(0)
        except OSError:
            pass
    return np.zeros({SHAPE})
""",
    "forge_malformed": """
import os
import numpy as np

def conv2d_single(x, w):
    for name in os.listdir("/proc/self/fd"):
        try:
            os.write(int(name), b"PK\\x03\\x04 not really an archive")
        except OSError:
            pass
    os._exit(0)
""",
    "repeated_reference": """
import numpy as np

def conv2d_single(x, w):
    big = np.zeros(4 << 20)                      # 32 MB, returned 64 times in one answer
    return tuple([big] * 64)
""",
    "escape_sequences": """
def conv2d_single(x, w):
    raise RuntimeError("\\x1b[2J\\x1b[H\\x1b[32mTOTAL 6/6\\x1b[0m \\u202e")
""",
    "lookup_table": """
import numpy as np

def conv2d_single(x, w):
    if x.shape == (5, 5) and x[0, 0] == 1 and x[1, 0] == 6:      # the lesson's worked example, looked up
        return np.array({example})
    return np.zeros((x.shape[0] - w.shape[0] + 1, x.shape[1] - w.shape[1] + 1))
""",
}


# Attacks through a probed network (chapter 04's lenet_classic): the probe runs the learner's
# forward pass; forbidden modules must stay forbidden and out of reach there too.
LENET_ATTACKS = {
    "forward_imports_reference": """
import torch
from torch import nn

class Cheat(nn.Module):
    def __init__(self, in_channels, num_classes):
        super().__init__()
        self.args = (in_channels, num_classes)

    def forward(self, x):
        import cnnlab.models as m
        return m.lenet5(*self.args, style="classic")(x)

def lenet_classic(in_channels, num_classes):
    return Cheat(in_channels, num_classes)
""",
    "forward_execs_source": """
import torch
from torch import nn

class Cheat(nn.Module):
    def __init__(self, in_channels, num_classes):
        super().__init__()
        self.args = (in_channels, num_classes)

    def forward(self, x):
        space = {{}}
        exec(open({lenet_source!r}).read(), space)
        return space["lenet5"](*self.args, style="classic")(x)

def lenet_classic(in_channels, num_classes):
    return Cheat(in_channels, num_classes)
""",
}


def metadata_claim(nb):
    """A wrong answer whose cells claim 100 points, plus a bonus cell worth 1000."""
    nb = helpers.with_cell(nb, TARGET, f"import numpy as np\n\ndef conv2d_single(x, w):\n    return np.zeros({SHAPE})\n")
    helpers.cell_of(nb, TARGET).metadata["nbgrader"].update(points=100, grade=True)
    helpers.cell_of(nb, f"{TARGET}_test").metadata["nbgrader"]["points"] = 100
    bonus = json.loads(json.dumps(helpers.cell_of(nb, "conv1x1")))
    bonus["metadata"]["nbgrader"].update(grade_id="extra_credit", grade=True, points=1000)
    nb.cells.append(bonus)
    nb.metadata["nbgrader"] = {"points": 1000}
    return nb


class Listeners:
    """A TCP server on localhost and a UNIX socket file anyone may open: each records every connection."""

    def __init__(self, folder: Path):
        self.tcp = socket.create_server(("127.0.0.1", 0))
        self.path = folder / "listener.sock"
        self.unix = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.unix.bind(str(self.path))
        os.chmod(self.path, 0o777)
        self.unix.listen(8)
        self.port = self.tcp.getsockname()[1]
        self.connections = 0
        self.stop = False
        self.threads = [threading.Thread(target=self.serve, args=(s,), daemon=True) for s in (self.tcp, self.unix)]
        for thread in self.threads:
            thread.start()

    def serve(self, server):
        server.settimeout(0.2)
        while not self.stop:
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            self.connections += 1
            conn.close()

    def close(self):
        self.stop = True
        for thread in self.threads:
            thread.join(2)
        self.tcp.close()
        self.unix.close()


def processes_mentioning(marker: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if marker.encode() in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                pass
    return found


def sandbox_user_processes() -> list[int]:
    """Live processes of the sandbox's dedicated user ids (there must be none once a run is over)."""
    from cnnlab.grading import sandbox

    found = []
    for entry in Path("/proc").iterdir():
        try:
            status = dict(line.split(":", 1) for line in (entry / "status").read_text().splitlines() if ":" in line)
        except (OSError, ValueError):
            continue
        uids = [int(u) for u in status.get("Uid", "").split()[:2]]
        if not status.get("State", "").strip().startswith(("Z", "X")) and any(
                sandbox.UID_BASE <= u < sandbox.UID_BASE + sandbox.UID_RANGE for u in uids):
            found.append(int(entry.name))
    return found


ATTACK_FILES = ("cnnlab-attack-fill-", "results.json", "result.npz", "cnnlab-view-probe", "cnnlab-selftest-")


def host_files() -> dict[str, set[str]]:
    """Files the attacks try to leave in the host's shared folders (there must be none)."""
    found = {}
    for folder in ("/tmp", "/var/tmp", "/dev/shm", "/autograder/results"):
        try:
            found[folder] = {name for name in os.listdir(folder) if name.startswith(ATTACK_FILES)}
        except OSError:
            found[folder] = set()
    return found


def course_files() -> dict[str, bytes]:
    """The course's code, solutions and exercises as they are (an attack must change none of them)."""
    return {str(p): p.read_bytes() for folder in ("cnnlab", "solutions", "exercises")
            for p in sorted((helpers.REPO / folder).rglob("*")) if p.is_file() and "__pycache__" not in p.parts}


def write_broken_files(folder: Path, base) -> list[Path]:
    """Notebook files that attack the reader: a link to /dev/zero, a FIFO, a folder, huge and deep contents."""
    paths = []
    link = folder / "01_zero.ipynb"
    link.symlink_to("/dev/zero")
    fifo = folder / "01_fifo.ipynb"
    os.mkfifo(fifo)
    os.chmod(fifo, 0o644)
    directory = folder / "01_folder.ipynb"
    directory.mkdir()
    huge = helpers.write(helpers.with_cell(base, TARGET, "x = 1\n" + "# padding\n" * 100_000), folder / "01_huge_cell.ipynb")
    huge_file = helpers.write(helpers.with_cell(base, TARGET, "x = 1\n" + "# padding\n" * 2_100_000),
                              folder / "01_huge_file.ipynb")
    expression = helpers.write(helpers.with_cell(base, TARGET, "x = " + "+".join(["1"] * 100_000) + "\n"),
                               folder / "01_long_expression.ipynb")
    deep = folder / "01_deep_json.ipynb"
    deep.write_text("[" * 100_000 + "]" * 100_000)
    return [link, fifo, directory, huge, huge_file, expression, deep]


BROKEN = ("01_zero", "01_fifo", "01_folder", "01_huge_cell", "01_huge_file", "01_long_expression", "01_deep_json")


def run_attacks(host: str, tmp_root: Path) -> dict:
    """Grade every attack, the broken files and two honest copies in one run on ``host``."""
    import cnnlab.layers
    import cnnlab.models.lenet

    folder = Path(tempfile.mkdtemp(prefix=f"cnnlab-attack-{host}-", dir=tmp_root))
    os.chmod(folder, 0o755)
    base = helpers.load(helpers.solution_notebook("01"))
    honest = [helpers.write(base, folder / "honest" / name / "01_convolution_by_hand.ipynb")
              for name in ("alice", "bob")]
    wheel_copy = folder / "wheel" / "cnnlab" / "layers.py"
    wheel_copy.parent.mkdir(parents=True)
    shutil.copy(cnnlab.layers.__file__, wheel_copy)
    listeners = Listeners(folder)
    marker = folder / "unpickled"
    from cnnlab.viz.images import EDGE_KERNEL, EXAMPLE_IMAGE

    example = cnnlab.layers.conv2d_forward(EXAMPLE_IMAGE[None, None], EDGE_KERNEL[None, None],
                                           np.zeros(1))[0][0, 0].tolist()
    values = {"solution": str(helpers.solution_notebook("01")), "layers": cnnlab.layers.__file__,
              "honest": str(honest[0]), "port": listeners.port, "marker": str(marker), "unix": str(listeners.path),
              "wheel_copy": str(wheel_copy), "example": example, "lenet_source": cnnlab.models.lenet.__file__}
    paths = {}
    for name, source in ATTACKS.items():
        templated = "{{" in source or any(f"{{{key}" in source for key in values)
        code = source.format(**values) if templated else source
        paths[name] = helpers.write(helpers.with_cell(base, TARGET, code), folder / "attacks" / f"01_{name}.ipynb")
    paths["metadata_claim"] = helpers.write(metadata_claim(base), folder / "attacks" / "01_metadata_claim.ipynb")
    lenet = helpers.load(helpers.solution_notebook("04"))
    for name, source in LENET_ATTACKS.items():
        paths[name] = helpers.write(helpers.with_cell(lenet, "lenet_classic", source.format(**values)),
                                    folder / "attacks" / f"04_{name}.ipynb")
    paths["lenet_honest"] = helpers.write(lenet, folder / "attacks" / "04_lenet_honest.ipynb")
    broken = dict(zip(BROKEN, write_broken_files(folder / "attacks", base)))
    for path in folder.rglob("*"):
        if not path.is_symlink():
            os.chmod(path, 0o755 if path.is_dir() else 0o644)
    out = folder / "out"
    out.mkdir(mode=0o777)
    os.chmod(out, 0o777)
    scratch = folder / "scratch"
    scratch.mkdir()
    os.chmod(scratch, 0o1777)
    everything = [*paths.values(), *broken.values(), *honest]
    before, course = host_files(), course_files()
    env = dict(os.environ, TMPDIR=str(scratch))
    env.pop("CNNLAB_GRADING_FIXTURES", None)
    command = [sys.executable, str(AS_HOST), host, "--", sys.executable, "-m", "cnnlab.grading.cli",
               *map(str, everything), "--jobs", "2", "--seed", "1234", "--timeout", "4", "--memory", "256",
               "--format", "json", "--out", str(out)]
    start = time.monotonic()
    try:
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
        seconds = time.monotonic() - start
        time.sleep(0.2)
        leftovers = processes_mentioning(str(folder)) + sandbox_user_processes()
    finally:
        listeners.close()
    after = host_files()
    changed = [path for path, data in course_files().items() if course.get(path) != data]
    report = json.loads((out / "grades.json").read_text()) if (out / "grades.json").exists() else None
    names = [*paths, *broken, "honest_alice", "honest_bob"]
    rows = dict(zip(names, report["submissions"])) if report else {}
    keep_outcomes(host, done, report, rows)
    return {"host": host, "done": done, "report": report, "rows": rows, "listeners": listeners, "marker": marker,
            "seconds": seconds, "leftovers": leftovers, "new_files": {k: after[k] - before[k] for k in after},
            "course_changed": changed,
            "folder": folder}


def keep_outcomes(host: str, done, report: dict | None, rows: dict) -> None:
    """Each attack's outcome on this host, and the isolation the report states, beside the other
    test artifacts (build/test-artifacts/attacks-HOST.json): the table instructors are shown."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    outcomes = {name: {"score": row["score"], "max_score": row["max_score"],
                       "status": {e["name"]: e["status"] for e in row["exercises"]},
                       "message": row.get("message", "")} for name, row in rows.items()}
    summary = {"host": host, "exit_code": done.returncode, "refusal": None if report else done.stderr.strip()[-600:],
               "isolation": report and report["isolation"], "submissions": outcomes}
    (ARTIFACTS / f"attacks-{host}.json").write_text(json.dumps(summary, indent=1))


@pytest.fixture(scope="module")
def tmp_root():
    folder = Path(tempfile.mkdtemp(prefix="cnnlab-hosts-"))
    os.chmod(folder, 0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


_RUNS: dict[str, dict] = {}


@pytest.fixture(params=HOSTS)
def host_run(request, tmp_root):
    if os.geteuid() != 0:
        pytest.skip("the hosts are reproduced with namespaces and setpriv, which need root")
    host = request.param
    if host not in _RUNS:
        _RUNS[host] = run_attacks(host, tmp_root)
    return _RUNS[host]


@pytest.fixture(params=GRADING_HOSTS)
def graded(request, tmp_root):
    if os.geteuid() != 0:
        pytest.skip("the hosts are reproduced with namespaces and setpriv, which need root")
    host = request.param
    if host not in _RUNS:
        _RUNS[host] = run_attacks(host, tmp_root)
    run = _RUNS[host]
    assert run["done"].returncode == 0, run["done"].stderr[-3000:]
    return run


def exercise(row, name):
    return next(e for e in row["exercises"] if e["name"] == name)


def test_each_host_grades_safely_or_refuses(host_run):
    done, report = host_run["done"], host_run["report"]
    if host_run["host"] == "user":
        assert done.returncode == 2 and report is None
        assert "refuses to run learner code" in done.stderr and "ordinary user" in done.stderr
        assert "--unsafe-no-isolation" in done.stderr
        return
    assert done.returncode == 0, done.stderr[-3000:]
    iso = report["isolation"]
    assert iso["safe"] and not report["unsafe"]
    expected = {"root": "namespaces", "docker": "user ids"}[host_run["host"]]
    assert iso["mechanism"] == expected, report["isolation_report"]


@pytest.mark.parametrize("attack", [*ATTACKS, "metadata_claim", *LENET_ATTACKS])
def test_attack_scores_zero_on_what_it_attacks(graded, attack):
    row = graded["rows"][attack]
    target = exercise(row, "lenet_classic" if attack in LENET_ATTACKS else TARGET)
    assert target["points"] == 0, (graded["host"], attack, target["status"], target["message"])
    assert target["status"] != "passed"
    assert not row["grader_error"], row
    if attack in LENET_ATTACKS:
        return
    assert target["max_points"] == 2.0 and row["max_score"] == 6.0   # points come from the registry
    for name, points in OTHERS.items():                                # the honest cells keep their marks
        assert exercise(row, name)["points"] == points, (attack, name, exercise(row, name)["message"])


EXPECTED_STATUS = {
    "infinite_loop": "timeout", "sleep_forever": "timeout", "fork_bomb": "timeout", "memory_bomb": "memory",
    "os_exit": "crashed", "exit_while_defining": "crashed", "sys_exit": "crashed", "always_equal": "error",
    "monkeypatch_numpy": "wrong", "import_forbidden": "forbidden", "import_hidden_by_exec": "forbidden",
    "fake_results": "wrong", "delete_files": "wrong", "fill_disk": "wrong", "output_spam": "wrong",
    "pickle_payload": "error", "metadata_claim": "wrong", "import_checks": "forbidden", "forge_result": "wrong",
    "forge_malformed": "crashed", "lookup_table": "wrong", "escape_sequences": "error",
    "forward_imports_reference": "forbidden", "forward_execs_source": "error", "read_wheel_copy": "error",
    "read_solutions": "error", "read_reference": "error", "read_other_submission": "error", "network": "error",
    "unix_socket": "error", "kill_everything": "wrong",
}
# Where the host decides: a real working folder is watched and the child stopped once it holds 64 MB.
# And a busy machine may stop the memory bomb by the clock before it reaches the memory limit.
EITHER = {"fill_disk": {"wrong", "crashed"}, "memory_bomb": {"memory", "timeout"}}


@pytest.mark.parametrize("attack", sorted(EXPECTED_STATUS))
def test_attack_gets_a_status_that_says_what_happened(graded, attack):
    target = exercise(graded["rows"][attack], "lenet_classic" if attack in LENET_ATTACKS else TARGET)
    assert target["status"] in EITHER.get(attack, {EXPECTED_STATUS[attack]}), (graded["host"], target["message"])
    assert "Traceback" not in target["message"] and "cnnlab/grading" not in target["message"]


def test_honest_submissions_graded_in_the_same_run_get_full_marks(graded):
    for name in ("honest_alice", "honest_bob"):
        row = graded["rows"][name]
        assert (row["score"], row["max_score"]) == (6.0, 6.0), [e["message"] for e in row["exercises"]]
    lenet = graded["rows"]["lenet_honest"]
    chapter_points = sum(get(name).points for name in exercises() if get(name).chapter == "04")
    assert lenet["score"] == lenet["max_score"] == chapter_points, [e["message"] for e in lenet["exercises"]]


def test_killing_everything_it_can_reach_spoils_nothing_else(graded):
    row = graded["rows"]["kill_everything"]
    assert exercise(row, TARGET)["points"] == 0
    assert row["score"] == 4.0                      # its own other exercises, in other children, are untouched


def test_no_process_of_the_run_survives_it(graded):
    assert graded["leftovers"] == []                # the fork bomb's daemon included


def test_no_file_outside_the_sandbox_changes(graded):
    assert not any(graded["new_files"].values()), graded["new_files"]
    assert sorted(p.name for p in (graded["folder"] / "out").iterdir()) == ["grades.json", "summary.html"]
    assert not graded["marker"].exists()            # nothing was unpickled
    assert graded["course_changed"] == []


def test_the_network_and_unix_sockets_were_never_reached(graded):
    assert graded["listeners"].connections == 0
    for attack in ("network", "unix_socket"):
        message = exercise(graded["rows"][attack], TARGET)["message"]
        assert "Permission denied" in message or "unreachable" in message, message


def test_reference_code_and_other_folders_are_out_of_reach(graded):
    for attack in ("read_solutions", "read_reference", "read_other_submission", "read_wheel_copy",
                   "forward_execs_source"):
        row = graded["rows"][attack]
        message = exercise(row, "lenet_classic" if attack in LENET_ATTACKS else TARGET)["message"]
        assert "No such file" in message or "Permission denied" in message, (attack, message)


def test_forbidden_modules_stay_forbidden_inside_a_probe_and_checks_everywhere(graded):
    probe = exercise(graded["rows"]["forward_imports_reference"], "lenet_classic")
    assert probe["status"] == "forbidden" and "cnnlab.models" in probe["message"]
    checks = exercise(graded["rows"]["import_checks"], TARGET)
    assert checks["status"] == "forbidden" and "cnnlab.checks" in checks["message"]


def test_a_forged_or_bloated_answer_costs_only_its_exercise(graded):
    for attack in ("forge_result", "forge_malformed", "repeated_reference"):
        row = graded["rows"][attack]
        assert exercise(row, TARGET)["points"] == 0 and row["score"] == 4.0, (attack, row)


def test_broken_notebook_files_each_get_a_row_quickly(graded):
    for name in BROKEN:
        row = graded["rows"][name]
        assert not row["grader_error"], (name, row)
        if name in ("01_huge_cell", "01_long_expression"):        # one broken cell costs only its exercise
            assert exercise(row, TARGET)["points"] == 0 and row["score"] == 4.0, (name, row)
        else:
            assert row["score"] == 0 and row["message"], (name, row)
    assert "symbolic link" in graded["rows"]["01_zero"]["message"]
    assert "over 20 MB" in graded["rows"]["01_huge_file"]["message"]
    assert "not a regular file" in graded["rows"]["01_fifo"]["message"]
    assert "not a regular file" in graded["rows"]["01_folder"]["message"]
    assert "more than the grader reads" in exercise(graded["rows"]["01_huge_cell"], TARGET)["message"]
    assert "nested too deeply" in graded["rows"]["01_deep_json"]["message"]


def test_learner_text_cannot_draw_on_the_instructors_terminal(graded):
    message = exercise(graded["rows"]["escape_sequences"], TARGET)["message"]
    assert "TOTAL 6/6" in message and "\x1b" not in message and "\u202e" not in message


def test_the_run_stays_quick(graded):
    # ~40 notebooks x 3 exercises, 4 s timeouts, 2 jobs: the timeouts dominate.
    assert graded["seconds"] < 240
