"""The parent side of the sandbox: decide what this host can isolate, refuse when it is not enough, run children.

Before any learner code runs, ``assess`` finds what the host allows and proves it: a
self-test child is isolated exactly as learner code would be, then tries to read the
course's reference code and the grader's files, reach the network and a UNIX socket,
signal the grader, write outside its folder and leave a daemon behind. Five guarantees
follow from what it could not do:

- identity: learner code runs as a dedicated user id, never root, never the grader's;
- files: the course's reference code, the grader's files and results, and the other
  submissions are out of reach (an allow-list view of the file system);
- network: no network, no UNIX-socket connections;
- processes: it cannot signal or trace other processes, and nothing it starts outlives it;
- resources: CPU time, memory, processes, file size and open files are capped.

Two mechanisms give them. As root with ``CAP_SYS_ADMIN``: new mount, network, pid, ipc and
uts namespaces, the view built with ``pivot_root``, a dedicated user id. As root without it
(Docker's default capabilities, Gradescope): a dedicated user id per concurrent child, killed
by user id when the child ends, Landlock for the file system, seccomp for sockets and
``ptrace``. Landlock and seccomp are added in both where the kernel has them. A guarantee
that cannot be met makes ``cnnlab grade`` refuse with one message naming what is missing
and how to get it, unless the instructor passes ``--unsafe-no-isolation`` (every report
then says so).

Children come from a fork server per chapter (``zygote.py``) that imports NumPy and torch
once. What comes back is one ``.npz`` per child, read under a strict schema with a byte
budget over every array reference; nothing a child writes is trusted.
"""

from __future__ import annotations

import fcntl
import json
import os
import pwd
import secrets
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from cnnlab.common import FailureKind
from cnnlab.grading import kernel, view as views

ZYGOTE = Path(__file__).resolve().with_name("zygote.py")
SETUP_FAILED = 97                                 # zygote.SETUP_FAILED
MB = 1 << 20
UID_BASE = 62000                                  # dedicated user ids: UID_BASE + slot (CNNLAB_SANDBOX_UID_BASE)
UID_RANGE = 1000
UNSAFE_FLAG = "--unsafe-no-isolation"
GUARANTEES = ("identity", "files", "network", "processes", "resources")
WORKDIR = "/learner"                              # the child's private working folder inside the view


@dataclass(frozen=True)
class Limits:
    """What one child may use. Times in seconds, sizes in MB."""

    timeout: float = 30.0       # wall clock per exercise, set-up included
    memory_mb: int = 2048       # address space the learner's code may add (torch alone maps a few hundred MB)
    nproc: int = 64             # processes and threads of the child's user id (and its pids cgroup)
    file_mb: int = 64           # largest file the child may write; also the size of its private folders
    nofile: int = 256           # open files
    output_mb: int = 64         # largest answer the parent reads back

    def for_child(self, timeout: float | None = None) -> dict:
        seconds = timeout or self.timeout
        return {"cpu": int(seconds) + 1, "memory": self.memory_mb * MB, "fsize": self.file_mb * MB,
                "nofile": self.nofile, "nproc": self.nproc}


@dataclass
class Isolation:
    """What this host gives learner code, as proven by the self-test; ``lines()`` is the report's paragraph."""

    mechanism: str = "none"            # "namespaces", "user ids" or "none"
    namespaces: list[str] = field(default_factory=list)
    landlock_abi: int = 0
    seccomp: bool = False
    cgroups: dict[str, str] = field(default_factory=dict)
    guarantees: dict[str, str] = field(default_factory=dict)   # guarantee -> how it is met
    missing: list[str] = field(default_factory=list)           # what is missing, each with its remedy
    unsafe: bool = False                                        # --unsafe-no-isolation was passed
    notes: list[str] = field(default_factory=list)

    @property
    def safe(self) -> bool:
        return not self.missing and all(g in self.guarantees for g in GUARANTEES)

    def lines(self) -> list[str]:
        out = [f"mechanism: {self.mechanism}"]
        for name in GUARANTEES:
            out.append(f"{name}: {self.guarantees.get(name, 'NOT GUARANTEED')}")
        out += [f"missing: {m}" for m in self.missing]
        if self.unsafe:
            out.append(f"UNSAFE: graded with {UNSAFE_FLAG}; learner code was not fully isolated")
        return out + [f"note: {n}" for n in self.notes]

    def as_dict(self) -> dict:
        return dict(asdict(self), safe=self.safe)


class SandboxRefused(RuntimeError):
    """The host cannot isolate learner code; the message names what is missing and how to get it."""


class BadResult(ValueError):
    """The child's result file is missing, too large, malformed or not ours."""


# --------------------------------------------------------------------------- user ids

class UidPool:
    """Dedicated user ids for concurrent children, claimed with lock files so two runs never share one.

    An id is only taken when no account and no running process uses it.
    """

    def __init__(self, count: int, base: int | None = None):
        base = base if base is not None else int(os.environ.get("CNNLAB_SANDBOX_UID_BASE", UID_BASE))
        self.folder = _lock_folder()
        self.locks: dict[int, int] = {}
        self.free: list[int] = []
        self.cond = threading.Condition()
        for uid in range(base, base + UID_RANGE):
            if len(self.locks) == count:
                break
            if uid == os.getuid() or _account_exists(uid) or kernel.user_processes(uid):
                continue
            fd = os.open(self.folder / f"{uid}.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                continue
            self.locks[uid] = fd
            self.free.append(uid)
        if len(self.locks) < count:
            self.close()
            raise SandboxRefused(f"no free user ids in {base}-{base + UID_RANGE - 1} for the sandbox: "
                                 "set CNNLAB_SANDBOX_UID_BASE to an unused range")

    def acquire(self) -> int:
        with self.cond:
            while not self.free:
                self.cond.wait()
            return self.free.pop()

    def release(self, uid: int) -> None:
        with self.cond:
            self.free.append(uid)
            self.cond.notify()

    def close(self) -> None:
        for fd in self.locks.values():
            os.close(fd)
        self.locks.clear()


def _lock_folder() -> Path:
    """One folder per machine (never $TMPDIR, which differs between runs) where user ids are claimed."""
    base = Path("/run") if os.access("/run", os.W_OK) else Path("/tmp")
    folder = base / "cnnlab-sandbox-uids"
    try:
        folder.mkdir(mode=0o700)
    except FileExistsError:
        pass
    info = folder.lstat()
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid() or info.st_mode & 0o077:
        raise SandboxRefused(f"{folder} is not a private folder of the grader's user: remove it and run again")
    return folder


def _account_exists(uid: int) -> bool:
    try:
        pwd.getpwuid(uid)
        return True
    except KeyError:
        return False


# --------------------------------------------------------------------------- the fork server

@dataclass
class ChildRun:
    """How a child ended. ``result`` is only a path: read it with ``load_result``."""

    returncode: int | None
    timed_out: bool
    seconds: float
    result: Path
    nonce: str
    setup_error: str | None = None
    over_quota: bool = False                     # wrote more than its working folder may hold

    @property
    def setup_failed(self) -> bool:
        return self.setup_error is not None


class ServerDied(RuntimeError):
    """The fork server ended while a child was running (a grader problem, never the learner's)."""


class Zygote:
    """A running fork server: send it jobs from any thread, each call waits for its own child."""

    def __init__(self, spec: dict, folder: Path, env: dict[str, str], start_timeout: float = 120.0):
        self.folder = folder
        spec_path = folder / f"server-{secrets.token_hex(4)}.json"
        spec_path.write_text(json.dumps(spec))
        self.stderr = open(folder / f"{spec_path.stem}.stderr", "wb")
        self.proc = subprocess.Popen([sys.executable, "-I", "-B", str(ZYGOTE), str(spec_path)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.stderr,
                                     cwd=folder, env=env, close_fds=True, start_new_session=True)
        self.lock = threading.Lock()
        self.waiting: dict[int, dict] = {}
        self.events: dict[int, threading.Event] = {}
        self.next_id = 0
        self.alive = True
        first = self._read_line(start_timeout)
        if not first or not first.get("ready"):
            self.close()
            why = first.get("error") if first else self.tail()
            raise ServerDied(f"the sandbox's fork server did not start: {why}")
        self.preloaded = first.get("preloaded", [])
        self.reader = threading.Thread(target=self._read_all, daemon=True)
        self.reader.start()

    def tail(self) -> str:
        try:
            self.stderr.flush()
            return Path(self.stderr.name).read_text(errors="replace")[-500:].strip()
        except OSError:
            return ""

    def _read_line(self, timeout: float) -> dict | None:
        import select

        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        if not ready:
            return None
        line = self.proc.stdout.readline()
        return json.loads(line) if line.strip() else None

    def _read_all(self) -> None:
        for line in self.proc.stdout:
            try:
                message = json.loads(line)
            except ValueError:
                continue
            key = message.get("done", message.get("started"))
            if "done" in message and key in self.events:
                self.waiting[key] = message
                self.events[key].set()
        self.alive = False
        for event in list(self.events.values()):
            event.set()

    def run(self, job: dict) -> dict:
        """Start ``job`` in a child and wait until the server reports it done (and cleaned up)."""
        with self.lock:
            if not self.alive or self.proc.poll() is not None:
                raise ServerDied(f"the sandbox's fork server has stopped: {self.tail()}")
            self.next_id += 1
            key = self.next_id
            self.events[key] = threading.Event()
            self.proc.stdin.write((json.dumps({"op": "run", "id": key, "job": job}) + "\n").encode())
            self.proc.stdin.flush()
        self.events[key].wait(job["timeout"] + 120)           # the server's own deadlines come first
        with self.lock:
            del self.events[key]
            done = self.waiting.pop(key, None)
        if done is None:
            raise ServerDied(f"the sandbox's fork server stopped answering: {self.tail()}")
        return done

    def close(self) -> None:
        try:
            if self.proc.stdin:
                self.proc.stdin.close()
            self.proc.wait(timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            pass
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            self.proc.wait()
        self.stderr.close()


def child_env(folder: Path) -> dict[str, str]:
    return {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(folder), "TMPDIR": str(folder),
            "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "MPLBACKEND": "Agg",
            "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
            "NUMEXPR_NUM_THREADS": "1"}


# --------------------------------------------------------------------------- the sandbox of one run

class Sandbox:
    """One grading run's sandbox: a private folder, the isolation found, user ids, fork servers.

    Use as a context manager; ``run`` runs one job in a fresh child and waits for it.
    """

    def __init__(self, limits: Limits, isolation: Isolation, jobs: int = 1, hidden: list[Path] | None = None,
                 work_root: Path | None = None):
        self.limits, self.isolation = limits, isolation
        self.root = Path(tempfile.mkdtemp(prefix="cnnlab-grade-", dir=work_root)).resolve()
        os.chmod(self.root, 0o711)
        self.hidden = [str(self.root), *[str(Path(p).resolve()) for p in hidden or []]]
        self.pool = UidPool(max(1, jobs)) if isolation.mechanism != "none" else None
        self.servers: dict[str, Zygote] = {}
        self.views: dict[tuple, views.View] = {}
        self.lock = threading.Lock()

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        for server in self.servers.values():
            server.close()
        self.servers.clear()
        if self.pool:
            self.pool.close()
        if self.root.exists():
            _remove_tree(self.root)

    # -- what a child sees and where it writes --------------------------------------
    def view(self, forbidden: tuple[str, ...], imports: tuple[str, ...] = ()) -> views.View:
        key = (tuple(sorted(forbidden)), tuple(sorted(imports)))
        with self.lock:
            if key not in self.views:
                self.views[key] = views.plan(forbidden, imports, self.hidden)
            return self.views[key]

    def child_spec(self, view: views.View, uid: int | None, task: Path, timeout: float) -> dict:
        iso, limits = self.isolation, self.limits
        work = task / "work"
        work.mkdir(mode=0o700)
        if uid is not None:
            os.chown(work, uid, uid)
        namespaces = iso.mechanism == "namespaces"
        writable = [p for p in ("/tmp", WORKDIR) if not any(views._inside(r, p) for r in view.read)] \
            if namespaces else []
        spec = {"namespaces": list(iso.namespaces) if namespaces else [], "view": None, "uid": uid,
                "gid": uid, "seccomp": iso.seccomp, "landlock": None, "limits": limits.for_child(timeout),
                "workdir": WORKDIR if WORKDIR in writable else str(work)}
        if iso.mechanism == "none":
            spec["limits"]["nproc"] = None            # the grader's own user: RLIMIT_NPROC would count its processes
        if spec["workdir"] == str(work):              # a real folder, not a capped tmpfs: the server watches its size
            spec["quota"] = [str(work), limits.file_mb * MB]
        if namespaces:
            root = task / "root"
            root.mkdir(mode=0o700)
            spec["view"] = dict(view.mounts(), root=str(root), links=view.links, devices=view.devices,
                                writable=[[p, limits.file_mb] for p in writable], uid=uid, gid=uid)
        if iso.landlock_abi:
            devices = [d for d in view.devices if d != "/dev/null"]
            proc = "/proc" if namespaces else "/proc/self"       # a private /proc, or only its own entry
            spec["landlock"] = {"read": [*view.read, *devices, proc],
                                "write": [*writable, spec["workdir"], "/dev/null"], "listable": view.listable,
                                "abi": iso.landlock_abi}
        return spec

    # -- fork servers -----------------------------------------------------------------
    def server(self, key: str, spec: dict) -> Zygote:
        with self.lock:
            server = self.servers.get(key)
            if server is None or not server.alive or server.proc.poll() is not None:
                if server is not None:
                    server.close()
                spec = dict(spec, cgroups=self.isolation.cgroups)
                server = Zygote(spec, self.root, child_env(self.root))
                self.servers[key] = server
            return server

    def run(self, server_key: str, server_spec: dict, job: dict, view: views.View, mode: str = "grade",
            timeout: float | None = None) -> ChildRun:
        """Run one job (``name``, ``source``, ``uses``, ``forbidden``) in a fresh child and wait for it."""
        timeout = timeout or self.limits.timeout
        task = Path(tempfile.mkdtemp(dir=self.root))
        os.chmod(task, 0o711)
        out = task / "out"
        out.mkdir(mode=0o700)
        nonce = secrets.token_hex(16)
        result = out / f"{nonce}.{'npz' if mode == 'grade' else 'json'}"
        uid = self.pool.acquire() if self.pool else None
        try:
            full = dict(job, mode=mode, nonce=nonce, result=str(result), timeout=timeout,
                        max_output_bytes=self.limits.output_mb * MB,
                        isolation=self.child_spec(view, uid, task, timeout))
            done = self.server(server_key, server_spec).run(full)
            kept = task.with_suffix(".result")
            if result.exists():
                os.replace(result, kept)
            status = done["status"]
            code = (os.WEXITSTATUS(status) if os.WIFEXITED(status) else -os.WTERMSIG(status)) \
                if isinstance(status, int) else None
            return ChildRun(code, bool(done.get("timed_out")), float(done.get("seconds", 0.0)), kept, nonce,
                            done.get("setup_error"), bool(done.get("over_quota")))
        finally:
            if uid is not None:
                self.pool.release(uid)
            _remove_tree(task)


def _remove_tree(path: Path) -> None:
    def unlock(func, target, _exc):
        try:
            os.chmod(os.path.dirname(target), 0o700)
            os.chmod(target, 0o700)
            func(target)
        except OSError:
            pass
    shutil.rmtree(path, onerror=unlock)


# --------------------------------------------------------------------------- reading the answer

RESULT_KEYS = {"nonce", "cell", "function", "cases", "forbidden"}


def load_result(path: Path, nonce: str, n_cases: int, cap_bytes: int) -> tuple[dict, dict[str, np.ndarray]]:
    """The child's answer, after checking everything about the file first.

    The archive must hold only uncompressed ``.npy`` members named ``meta`` and ``r0``, ``r1``
    ...; the meta data must match the schema exactly; the arrays that the answers refer to
    (each reference counted, repeats included) must fit ``cap_bytes``; only those are read.

    Returns:
        (meta, {key: array}) with the meta data validated.
    """
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        raise BadResult("no result file") from None
    if not stat.S_ISREG(info.st_mode):
        raise BadResult("the result is not a regular file")
    if info.st_size > cap_bytes + MB:
        raise BadResult(f"the result file is {info.st_size / MB:.0f} MB, more than {cap_bytes / MB:.0f} MB")
    try:
        with zipfile.ZipFile(path) as archive:
            members = _members(archive, cap_bytes)
            meta = _meta(archive, members)
            check_meta(meta, nonce, n_cases)
            wanted: dict[str, int] = {}
            budget = cap_bytes
            for case in meta["cases"]:
                if case["ok"]:
                    for key in _tree_keys(case["tree"]):
                        if key not in members:
                            raise BadResult("an answer refers to a missing array")
                        budget -= members[key][1]
                        wanted[key] = members[key][1]
                        if budget < 0:
                            raise BadResult("the answers are too large")
            arrays = {key: _array(archive, key) for key in wanted}
    except BadResult:
        raise
    except (zipfile.BadZipFile, OSError, ValueError, KeyError, TypeError, RecursionError, MemoryError,
            EOFError) as err:
        raise BadResult(f"the result file could not be read ({type(err).__name__})") from None
    return meta, arrays


def _members(archive: zipfile.ZipFile, cap_bytes: int) -> dict[str, tuple[zipfile.ZipInfo, int]]:
    """{key: (member, declared bytes)}, refusing anything but plain uncompressed .npy members."""
    infos = archive.infolist()
    if len(infos) > 10_001:
        raise BadResult("the result archive has too many members")
    found: dict[str, tuple[zipfile.ZipInfo, int]] = {}
    total = 0
    for item in infos:
        name = item.filename
        key = name[:-4] if name.endswith(".npy") else ""
        if not (key == "meta" or (key[:1] == "r" and key[1:].isdigit() and len(key) <= 7)) or key in found:
            raise BadResult("the result archive holds an unexpected member")
        if item.compress_type != zipfile.ZIP_STORED or item.file_size != item.compress_size:
            raise BadResult("the result archive is compressed")
        total += item.file_size
        if total > cap_bytes + MB:
            raise BadResult("the result archive is too large")
        with archive.open(item) as f:
            shape, dtype = _header(f)
        if dtype.hasobject or dtype.kind not in ("fiubU" if key == "meta" else "fiub") or dtype.itemsize > 8 * (
                MB if key == "meta" else 1):
            raise BadResult(f"array {key!r} has dtype {dtype}")
        size = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        if size > item.file_size:
            raise BadResult(f"array {key!r} is shorter than its header says")
        found[key] = (item, size)
    if "meta" not in found:
        raise BadResult("the result has no meta data")
    return found


def _header(f) -> tuple[tuple[int, ...], np.dtype]:
    """Shape and dtype from a .npy header, without reading the data (format versions 1.0 and 2.0)."""
    version = np.lib.format.read_magic(f)
    if version == (1, 0):
        shape, _, dtype = np.lib.format.read_array_header_1_0(f, max_header_size=10_000)
    elif version == (2, 0):
        shape, _, dtype = np.lib.format.read_array_header_2_0(f, max_header_size=10_000)
    else:
        raise BadResult(f"an array of the result has format version {version}")
    if len(shape) > 32 or any(n < 0 for n in shape):
        raise BadResult("an array of the result has a strange shape")
    return tuple(shape), dtype


def _array(archive: zipfile.ZipFile, key: str) -> np.ndarray:
    with archive.open(f"{key}.npy") as f:
        return np.lib.format.read_array(f, allow_pickle=False)


def _meta(archive: zipfile.ZipFile, members: dict) -> dict:
    if members["meta"][1] > 4 * MB:
        raise BadResult("the meta data is too large")
    raw = _array(archive, "meta")
    if raw.dtype.kind != "U" or raw.ndim != 0:
        raise BadResult("the result has no readable meta data")
    text = str(raw)
    if len(text) > MB:
        raise BadResult("the meta data is too large")
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        raise BadResult("the meta data is not valid JSON") from None


def _is_text(value, limit: int = 300) -> bool:
    return isinstance(value, str) and len(value) <= limit


def _failure_ok(part: dict) -> bool:
    if set(part) != {"ok", "kind", "message"} or part["ok"] is not False or not _is_text(part["message"]):
        return False
    try:
        FailureKind(part["kind"])
    except ValueError:
        return False
    return True


def check_meta(meta, nonce: str, n_cases: int) -> None:
    """The meta data's exact schema; BadResult on the first thing out of place."""
    if not isinstance(meta, dict) or set(meta) != RESULT_KEYS or meta["nonce"] != nonce:
        raise BadResult("the result is not the one this grader asked for")
    cell, function, cases, forbidden = meta["cell"], meta["function"], meta["cases"], meta["forbidden"]
    if not isinstance(cell, dict) or not (cell == {"ok": True} or _failure_ok(cell)):
        raise BadResult("the result's cell section is malformed")
    if not isinstance(function, dict) or not (function == {"ok": True} or (
            set(function) == {"ok", "defined"} and function["ok"] is False and isinstance(function["defined"], list)
            and len(function["defined"]) <= 10 and all(_is_text(d, 60) for d in function["defined"]))):
        raise BadResult("the result's function section is malformed")
    if not isinstance(forbidden, list) or len(forbidden) > 10 or not all(_is_text(f, 100) for f in forbidden):
        raise BadResult("the result's forbidden list is malformed")
    expected = n_cases if cell["ok"] and function["ok"] else 0
    if not isinstance(cases, list) or len(cases) != expected:
        raise BadResult(f"the result has {len(cases) if isinstance(cases, list) else 'no'} cases, expected {expected}")
    for case in cases:
        if not isinstance(case, dict):
            raise BadResult("a case of the result is malformed")
        if case.get("ok") is True:
            if set(case) != {"ok", "tree"}:
                raise BadResult("a case of the result is malformed")
            _tree_keys(case["tree"])
        elif not _failure_ok(case):
            raise BadResult("a case of the result is malformed")


def _tree_keys(tree, depth: int = 0) -> list[str]:
    """The array keys an answer tree refers to, in order, repeats included; BadResult if malformed."""
    if depth > 8 or not isinstance(tree, dict) or len(tree) != 1:
        raise BadResult("an answer in the result is malformed")
    if "a" in tree:
        key = tree["a"]
        if not (isinstance(key, str) and key[:1] == "r" and key[1:].isdigit() and len(key) <= 7):
            raise BadResult("an answer in the result is malformed")
        return [key]
    parts = tree.get("t")
    if not isinstance(parts, list) or len(parts) > 64:
        raise BadResult("an answer in the result is malformed")
    return [key for part in parts for key in _tree_keys(part, depth + 1)]


def tree_arrays(tree, arrays: dict):
    """Rebuild an answer from its (validated) tree of array keys: an array or a tuple of them."""
    if "a" in tree:
        return arrays[tree["a"]]
    return tuple(tree_arrays(t, arrays) for t in tree["t"])


# --------------------------------------------------------------------------- what this host gives

def assess(limits: Limits, unsafe: bool = False, sentinels: list[Path] | None = None,
           hidden: list[Path] | None = None, work_root: Path | None = None) -> Isolation:
    """Find the strongest isolation this host gives and prove it with a self-test; never raises.

    Args:
        limits: the run's limits (the self-test runs under them).
        unsafe: ``--unsafe-no-isolation``: keep going without the missing guarantees.
        sentinels: more files learner code must not be able to read (e.g. a submission).
        hidden: folders to keep out of the view (submissions, the output folder).
        work_root: where the self-test's temporary folder goes.
    """
    try:
        return _assess(limits, unsafe, sentinels or [], hidden or [], work_root)
    except Exception as err:                  # noqa: BLE001 - a crashing probe must refuse, not fall back
        iso = Isolation(unsafe=unsafe)
        iso.missing.append(f"the isolation self-test failed ({type(err).__name__}: {err})")
        return iso


def _candidates() -> list[Isolation]:
    """Mechanisms worth trying on this host, strongest first."""
    caps = kernel.effective_capabilities() if os.geteuid() == 0 else set()
    abi = kernel.landlock_abi()
    seccomp = kernel.machine() is not None
    base = {"landlock_abi": abi, "seccomp": seccomp}
    found = []
    if {"setuid", "setgid"} <= caps:
        if "sys_admin" in caps:
            found.append(Isolation(mechanism="namespaces", namespaces=["mount", "net", "ipc", "uts", "pid"],
                                   cgroups=cgroup_hierarchies(), **base))
        found.append(Isolation(mechanism="user ids", **base))
    found.append(Isolation(mechanism="none", **base))
    return found


def _assess(limits: Limits, unsafe: bool, sentinels: list[Path], hidden: list[Path], work_root) -> Isolation:
    tried: list[Isolation] = []
    for candidate in _candidates():
        if candidate.mechanism == "none" and not unsafe:
            candidate.missing = _why_refused(tried)
            return candidate
        try:
            report, leftovers, written = selftest(candidate, limits, sentinels, hidden, work_root)
        except SetupFailed as err:
            candidate.missing.append(f"its sandbox could not be set up: {err}")
            tried.append(candidate)
            continue
        judge(candidate, report, leftovers, written)
        if candidate.safe:
            candidate.notes += [f"not used: {t.mechanism} ({'; '.join(t.missing)})" for t in tried]
            return candidate
        if unsafe:
            candidate.unsafe = True
            return candidate
        tried.append(candidate)
    raise AssertionError("the last candidate always returns")


def _why_refused(tried: list[Isolation]) -> list[str]:
    """What is missing, with the remedy: from the mechanisms tried, or why none could be."""
    if tried:
        return [f"with {t.mechanism}: {m}" for t in tried for m in t.missing]
    if os.geteuid() != 0:
        return ["the grader runs as an ordinary user, so learner code would run as the grader's own user: run "
                "`cnnlab grade` as root (with sudo, or in a container); it then gives each child a dedicated "
                "user id"]
    return ["the grader runs as root without CAP_SETUID and CAP_SETGID, so it cannot give learner code a "
            "dedicated user id: run it with those capabilities (Docker keeps them by default)"]


class SetupFailed(RuntimeError):
    """A mechanism could not be set up at all (e.g. namespaces refused)."""


class _Listeners:
    """A TCP port and a UNIX socket outside the sandbox: a connection to either is a failure."""

    def __init__(self, folder: Path):
        self.tcp = socket.create_server(("127.0.0.1", 0))
        self.path = folder / "selftest.sock"
        if len(str(self.path)) > 100:                 # a UNIX socket's path is limited to about 107 bytes
            self.short = Path(tempfile.mkdtemp(prefix="cnnlab-", dir="/tmp" if os.access("/tmp", os.W_OK) else None))
            os.chmod(self.short, 0o755)
            self.path = self.short / "selftest.sock"
        else:
            self.short = None
        self.unix = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.unix.bind(str(self.path))
        os.chmod(self.path, 0o777)
        self.unix.listen(4)
        for s in (self.tcp, self.unix):
            s.setblocking(False)

    def connections(self) -> int:
        count = 0
        for s in (self.tcp, self.unix):
            while True:
                try:
                    conn, _ = s.accept()
                except (BlockingIOError, OSError):
                    break
                conn.close()
                count += 1
        return count

    def close(self) -> None:
        self.tcp.close()
        self.unix.close()
        if self.short is not None:
            shutil.rmtree(self.short, ignore_errors=True)


HOST_WRITABLE = ("/tmp", "/var/tmp", "/dev/shm")


def selftest(candidate: Isolation, limits: Limits, sentinels: list[Path], hidden: list[Path],
             work_root) -> tuple[dict, int, list[str]]:
    """Isolate a child as ``candidate`` says and let it try everything learner code must not do.

    Returns (what the child reported, processes of its user left afterwards, host files it wrote).
    """
    from cnnlab.grading import view as views_module

    sandbox = Sandbox(limits, candidate, jobs=1, hidden=hidden, work_root=work_root)
    listeners = None
    try:
        secret = sandbox.root / "grader-secret.txt"
        secret.write_text("the grader's own file\n")
        os.chmod(secret, 0o644)
        listeners = _Listeners(sandbox.root)
        package = Path(views_module.package_dir())
        unreadable = [package / "layers.py", package / "checks" / "__init__.py", package / "grading" / "grader.py",
                      secret, *sentinels]
        unreadable += [Path(c) / "__init__.py" for c in views_module.course_copies(views_module.python_roots())]
        checks = {"unreadable": [str(p) for p in dict.fromkeys(unreadable) if p.exists()],
                  "imports": ["fractions", "numpy"], "tcp": list(listeners.tcp.getsockname()),
                  "unix": str(listeners.path), "signal": [os.getpid()], "write": [*HOST_WRITABLE, str(sandbox.root)],
                  "daemon": True}
        job = {"name": None, "source": "", "forbidden": [], "checks": dict(checks, nonce=secrets.token_hex(8))}
        view = sandbox.view(("torch",))
        run = sandbox.run("selftest", {"preload": ["numpy"]}, job, view, mode="selftest", timeout=30)
        if run.setup_error:
            raise SetupFailed(run.setup_error)
        if run.timed_out or not run.result.exists():
            raise SetupFailed(f"the self-test child gave no report (exit code {run.returncode})")
        report = json.loads(run.result.read_text()[:MB])
        if report.get("nonce") != run.nonce:
            raise SetupFailed("the self-test report is not ours")
        uid = report.get("uid")
        leftovers = len(kernel.user_processes(uid)) if isinstance(uid, int) and uid not in (0, os.getuid()) else 0
        name = f"cnnlab-selftest-{job['checks']['nonce']}"
        written = [f for f in [*HOST_WRITABLE, str(sandbox.root)] if (Path(f) / name).exists()]
        for folder in written:
            (Path(folder) / name).unlink(missing_ok=True)
        report["connections"] = listeners.connections()
        return report, leftovers, written
    except ServerDied as err:
        raise SetupFailed(str(err)) from None
    finally:
        if listeners:
            listeners.close()
        sandbox.close()


def judge(iso: Isolation, report: dict, leftovers: int, written: list[str]) -> None:
    """Turn the self-test's report into guarantees (how each is met) and what is missing."""
    got, missing = iso.guarantees, iso.missing
    if "error" in report:
        missing.append(f"the self-test failed inside the sandbox: {report['error']}")
        return
    broken = [name for name, error in report.get("imports", {}).items() if error]
    if broken:
        missing.append(f"learner code cannot import {', '.join(broken)} under its user id (is Python installed "
                       "where every user can read it? e.g. not under /root)")
    uid = report.get("uid")
    if uid in (0, os.getuid()) or report.get("euid") in (0, os.getuid()):
        missing.append("learner code would run as root or as the grader's own user")
    else:
        got["identity"] = f"a dedicated user id per child ({UID_BASE}+ range, e.g. uid {uid}), no capabilities"
    readable = report.get("readable", [])
    if readable:
        missing.append(f"learner code can read {', '.join(readable[:3])}: "
                       + ("use a kernel with Landlock (Linux 5.13+) or make these unreadable to other users"
                          if iso.mechanism == "user ids" else "the file-system view leaks"))
    elif not broken:
        how = {"namespaces": "an allow-list view (mount namespace, pivot_root)",
               "user ids": (f"an allow-list by Landlock (ABI {iso.landlock_abi})" if iso.landlock_abi
                            else "file permissions only (no Landlock): verified for the course's code, "
                                 "the grader's files and the submissions")}.get(iso.mechanism, "file permissions")
        got["files"] = how + ("; plus Landlock" if iso.mechanism == "namespaces" and iso.landlock_abi else "")
    if written:
        missing.append(f"learner code can write to {', '.join(written)}")
    reached = [k for k in ("tcp", "unix") if report.get(k) is None] or (["a socket"] if report.get("connections") else [])
    if reached:
        missing.append(f"learner code can connect out ({', '.join(reached)}): needs a network namespace or seccomp")
    else:
        parts = [p for p, on in (("network namespace", "net" in iso.namespaces), ("seccomp: no sockets", iso.seccomp),
                                 (f"Landlock TCP rules", iso.landlock_abi >= 4)) if on]
        got["network"] = "no network, no UNIX-socket connections (" + ", ".join(parts) + ")"
    if report.get("signalled"):
        missing.append("learner code can signal the grader")
    if leftovers:
        missing.append("a process started by learner code was still running after its child ended")
    if iso.mechanism == "none":
        missing.append("without a dedicated user id, learner code shares the grader's user: what it starts may "
                       "outlive it and it may signal the grader's processes")
    elif not report.get("signalled") and not leftovers:
        how = ["every process of the child's user id killed when it ends"]
        if "pid" in iso.namespaces:
            how.insert(0, "a pid namespace per child")
        if iso.seccomp:
            how.append("no ptrace (seccomp)")
        if iso.landlock_abi >= 6:
            how.append("signals scoped by Landlock")
        if iso.cgroups:
            how.append(f"cgroups ({', '.join(sorted(iso.cgroups))})")
        got["processes"] = "; ".join(how)
    got["resources"] = "CPU time, address space, processes, file size, open files (resource limits)"


def cgroup_hierarchies() -> dict[str, str]:
    """Where this process may create cgroups (root only): {"pids": folder, "cpu": folder}."""
    if os.geteuid() != 0:
        return {}
    found = {}
    for controller in ("pids", "cpu"):
        v1 = Path("/sys/fs/cgroup") / controller
        if (v1 / "cgroup.procs").exists() and os.access(v1, os.W_OK) and not (v1 / "cgroup.controllers").exists():
            found[controller] = str(v1)
    if not found:
        v2 = Path("/sys/fs/cgroup")
        try:
            enabled = (v2 / "cgroup.subtree_control").read_text().split()
        except OSError:
            enabled = []
        found = {c: str(v2) for c in ("pids", "cpu") if c in enabled and os.access(v2, os.W_OK)}
    return found
