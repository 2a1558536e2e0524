"""Submissions that attack the grader: each scores 0 on the exercise it attacks, honest ones are untouched.

Every attack replaces the ``conv2d_single`` cell of the chapter 01 solution notebook; the
notebook's other two exercises stay honest and must keep their marks. All attacks and two
honest copies are graded in ONE run with ``--jobs 2``, so the test also shows that an attack
does not spoil its neighbours.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import socket
import tempfile
import threading
import time
from pathlib import Path

import pytest

from cnnlab.grading import GradeConfig, Limits, grade

HELPERS_PATH = Path(__file__).parent / "grading_fixtures" / "helpers.py"
_spec = importlib.util.spec_from_file_location("cnnlab_grading_test_helpers", HELPERS_PATH)
helpers = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(helpers)

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="the sandbox needs a POSIX system")

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
}


def metadata_claim(nb):
    """A wrong answer whose cells claim 100 points, plus a bonus cell worth 1000."""
    nb = helpers.with_cell(nb, TARGET, f"import numpy as np\n\ndef conv2d_single(x, w):\n    return np.zeros({SHAPE})\n")
    helpers.cell_of(nb, TARGET).metadata["nbgrader"].update(points=100, grade=True)
    helpers.cell_of(nb, f"{TARGET}_test").metadata["nbgrader"]["points"] = 100
    bonus = dict(helpers.cell_of(nb, "conv1x1"))
    bonus = json.loads(json.dumps(bonus))
    bonus["metadata"]["nbgrader"].update(grade_id="extra_credit", grade=True, points=1000)
    nb.cells.append(bonus)
    nb.metadata["nbgrader"] = {"points": 1000}
    return nb


class Listener:
    """A TCP server on localhost that records every connection (there must be none)."""

    def __init__(self):
        self.server = socket.create_server(("127.0.0.1", 0))
        self.server.settimeout(0.2)
        self.port = self.server.getsockname()[1]
        self.connections = 0
        self.stop = False
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        while not self.stop:
            try:
                conn, _ = self.server.accept()
            except OSError:
                continue
            self.connections += 1
            conn.close()

    def close(self):
        self.stop = True
        self.thread.join(2)
        self.server.close()


def leftover_processes(marker: str) -> list[int]:
    """Processes whose command line mentions ``marker`` (the run's private temp folder)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if marker.encode() in (entry / "cmdline").read_bytes():
                found.append(int(entry.name))
        except OSError:
            pass
    return found


@pytest.fixture(scope="module")
def attack_run(tmp_path_factory):
    solution = helpers.solution_notebook("01")
    import cnnlab.layers

    base = helpers.load(solution)
    folder = tmp_path_factory.mktemp("attacks")
    honest = [helpers.write(base, folder / "honest" / "alice" / "01_convolution_by_hand.ipynb"),
              helpers.write(base, folder / "honest" / "bob" / "01_convolution_by_hand.ipynb")]
    marker = folder / "unpickled"
    listener = Listener()
    values = {"solution": str(solution), "layers": cnnlab.layers.__file__, "honest": str(honest[0]),
              "port": listener.port, "marker": str(marker)}
    paths = {}
    for name, source in ATTACKS.items():
        templated = "{{" in source or any(f"{{{key}" in source for key in values)
        code = source.format(**values) if templated else source
        paths[name] = helpers.write(helpers.with_cell(base, TARGET, code), folder / "attacks" / f"{name}.ipynb")
    paths["metadata_claim"] = helpers.write(metadata_claim(base), folder / "attacks" / "metadata_claim.ipynb")
    work_root = Path(tempfile.mkdtemp(prefix="cnnlab-attack-"))
    os.chmod(work_root, 0o711)
    names = list(paths)
    start = time.monotonic()
    try:
        report = grade([*paths.values(), *honest],
                       GradeConfig(chapter="01", jobs=2, seed=1234, work_root=str(work_root),
                                   limits=Limits(timeout=4, memory_mb=256)))
        seconds = time.monotonic() - start
        time.sleep(0.2)
        leftovers = leftover_processes(str(work_root))
    finally:
        listener.close()
    shutil.rmtree(work_root, ignore_errors=True)
    rows = dict(zip(names + ["honest_alice", "honest_bob"], report.submissions))
    return {"rows": rows, "report": report, "listener": listener, "marker": marker, "seconds": seconds,
            "leftovers": leftovers}


def exercise(row, name):
    return next(e for e in row.exercises if e.name == name)


@pytest.mark.slow
@pytest.mark.parametrize("attack", [*ATTACKS, "metadata_claim"])
def test_attack_scores_zero_on_what_it_attacks(attack_run, attack):
    row = attack_run["rows"][attack]
    target = exercise(row, TARGET)
    isolation = attack_run["report"].isolation
    needs = {"read_solutions": isolation.mount, "read_reference": isolation.mount,
             "read_other_submission": isolation.mount, "network": isolation.net}
    if not needs.get(attack, True):
        pytest.skip(f"{attack}: this host offers no isolation against it (the report says so)")
    assert target.points == 0, (attack, target.status, target.message)
    assert target.status != "passed"
    assert target.max_points == 2.0
    assert row.max_score == 6.0                          # points come from the registry, never the notebook
    for name, points in OTHERS.items():                  # the honest cells of the same notebook keep their marks
        assert exercise(row, name).points == points, (attack, name, exercise(row, name).message)
    assert not row.grader_error


EXPECTED_STATUS = {
    "infinite_loop": "timeout", "sleep_forever": "timeout", "fork_bomb": "timeout", "memory_bomb": "memory",
    "os_exit": "crashed", "exit_while_defining": "crashed", "sys_exit": "error", "always_equal": "error",
    "monkeypatch_numpy": "wrong", "import_forbidden": "forbidden", "import_hidden_by_exec": "forbidden",
    "fake_results": "wrong", "delete_files": "wrong", "fill_disk": "wrong", "output_spam": "wrong", "pickle_payload": "error",
    "metadata_claim": "wrong",
}


@pytest.mark.slow
@pytest.mark.parametrize("attack", sorted(EXPECTED_STATUS))
def test_attack_gets_a_status_that_says_what_happened(attack_run, attack):
    target = exercise(attack_run["rows"][attack], TARGET)
    assert target.status == EXPECTED_STATUS[attack], target.message
    assert "Traceback" not in target.message and "cnnlab/grading" not in target.message


@pytest.mark.slow
def test_honest_submissions_graded_in_the_same_run_get_full_marks(attack_run):
    for name in ("honest_alice", "honest_bob"):
        row = attack_run["rows"][name]
        assert (row.score, row.max_score) == (6.0, 6.0), [e.message for e in row.exercises]
        assert all(e.status == "passed" for e in row.exercises)


@pytest.mark.slow
def test_no_process_of_the_run_survives_it(attack_run):
    assert attack_run["leftovers"] == []            # the fork bomb's daemon included


@pytest.mark.slow
def test_the_network_was_never_reached(attack_run):
    if not attack_run["report"].isolation.net:
        assert any("network namespace (no network): NO" in line for line in attack_run["report"].isolation.lines())
        pytest.skip("no network namespace on this host; the report says so")
    assert attack_run["listener"].connections == 0
    assert "Network is unreachable" in exercise(attack_run["rows"]["network"], TARGET).message


@pytest.mark.slow
def test_learner_code_cannot_fill_the_disks(attack_run):
    if not attack_run["report"].isolation.readonly:
        pytest.skip("file systems stay writable on this host; the report says so")
    for folder in ("/tmp", "/var/tmp", "/dev/shm"):
        assert not list(Path(folder).glob("cnnlab-attack-fill-*"))


@pytest.mark.slow
def test_nothing_from_the_child_is_unpickled(attack_run):
    assert not attack_run["marker"].exists()
    message = exercise(attack_run["rows"]["pickle_payload"], TARGET).message
    assert "not numbers" in message or "dtype object" in message


@pytest.mark.slow
def test_hidden_files_are_missing_inside_the_sandbox(attack_run):
    if not attack_run["report"].isolation.mount:
        pytest.skip("no mount namespace on this host; the report says so")
    assert "No such file" in exercise(attack_run["rows"]["read_solutions"], TARGET).message
    other = exercise(attack_run["rows"]["read_other_submission"], TARGET).message
    assert "No such file" in other or "Permission denied" in other


@pytest.mark.slow
def test_the_run_stays_quick(attack_run):
    # 23 notebooks x 3 exercises, 4 s timeouts, 2 jobs: the timeouts dominate.
    assert attack_run["seconds"] < 120
