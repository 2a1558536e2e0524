"""The parent side of the sandbox: start ``child.py``, stop it, and read back only plain arrays.

Each exercise of each submission runs in its own child process (so a hang costs one
exercise, not the submission). The child gets a scrubbed environment, ``python -I``, an
empty working directory, resource limits, and — where the host allows it, detected at run
time by a probe child — new mount/network/pid namespaces, a pids cgroup, the course folder
and the submissions hidden, and a dropped user when the grader runs as root. Lesson:
exercises (how the grader keeps learner code at arm's length).

What comes back is one ``.npz`` file whose name carries a random nonce; it is size-capped,
checked member by member, and opened with ``allow_pickle=False``. Nothing else the child
writes or prints is read.
"""

from __future__ import annotations

import importlib.util
import json
import os
import pwd
import secrets
import select
import shutil
import signal
import site
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

CHILD = Path(__file__).resolve().with_name("child.py")
SETUP_FAILED = 97                                # child.SETUP_FAILED
SYSTEM_DIRS = {Path(p) for p in ("/", "/usr", "/bin", "/sbin", "/lib", "/lib64", "/etc", "/dev", "/proc",
                                 "/sys", "/run", "/var", "/tmp", "/home")}
MB = 1 << 20


@dataclass(frozen=True)
class Limits:
    """What one child may use. Times in seconds, sizes in MB."""

    timeout: float = 30.0       # wall clock per exercise, Python start-up included
    memory_mb: int = 2048       # address space the learner's code may add (torch alone maps a few hundred MB)
    nproc: int = 64             # processes and threads (pids cgroup; RLIMIT_NPROC once the user is dropped)
    file_mb: int = 64           # largest file the child may write; also the size of its working directory
    nofile: int = 256           # open files
    output_mb: int = 64         # largest answer the parent reads back

    def for_child(self) -> dict:
        return {"cpu": int(self.timeout) + 1, "memory": self.memory_mb * MB, "fsize": self.file_mb * MB,
                "nofile": self.nofile, "nproc": self.nproc}


@dataclass
class Isolation:
    """What the host allows, found by a probe child; ``lines()`` is the report's paragraph."""

    user: tuple[int, int, str] | None = None    # (uid, gid, name) the child runs as
    userns: bool = False
    mount: bool = False
    readonly: bool = False                       # every file system read-only but the working directory
    net: bool = False
    pid: bool = False
    ipc: bool = False
    uts: bool = False
    cgroups: dict[str, str] = field(default_factory=dict)   # controller -> hierarchy (a group per child)
    notes: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        def mark(ok: bool) -> str:
            return "yes" if ok else "NO"
        who = f"yes ({self.user[2]}, uid {self.user[0]})" if self.user else (
            "not needed (grader is not root)" if os.geteuid() != 0 else "NO (runs as root)")
        out = [f"resource limits (CPU, memory, processes, file size, open files): yes",
               f"network namespace (no network): {mark(self.net)}",
               f"mount namespace (course folder and submissions hidden): {mark(self.mount)}",
               f"file systems read-only except the working directory: {mark(self.readonly)}",
               f"pid namespace (everything killed with the child, private /proc): {mark(self.pid)}",
               f"cgroups (processes capped, CPU shared fairly): "
               f"{', '.join(sorted(self.cgroups)) if self.cgroups else 'NO'}",
               f"privileges dropped: {who}"]
        return out + [f"note: {n}" for n in self.notes]

    def as_dict(self) -> dict:
        return asdict(self)


class BadResult(ValueError):
    """The child's result file is missing, too large, malformed or not ours."""


# --------------------------------------------------------------------------- who the child runs as

def sandbox_identity(requested: str | None = None) -> tuple[tuple[int, int, str] | None, str | None]:
    """(uid, gid, name) to drop to when running as root, and a note when there is none.

    ``requested`` (``--sandbox-user``) or env ``CNNLAB_SANDBOX_USER`` names a user or a uid;
    the default is ``nobody``. ``none`` keeps root (not advised).
    """
    if os.geteuid() != 0:
        return None, None
    name = requested if requested is not None else os.environ.get("CNNLAB_SANDBOX_USER", "nobody")
    if name in ("", "none", "root", "0"):
        return None, "the sandbox user is disabled: learner code runs as root"
    try:
        entry = pwd.getpwuid(int(name)) if name.isdigit() else pwd.getpwnam(name)
        return (entry.pw_uid, entry.pw_gid, entry.pw_name), None
    except KeyError:
        if name.isdigit():
            return (int(name), int(name), name), None
        return None, f"sandbox user {name!r} does not exist: learner code runs as root"


# --------------------------------------------------------------------------- what the child must not see

def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def _traversable(folder: Path, uid: int, gid: int) -> bool:
    st = folder.stat()
    if st.st_uid == uid:
        return bool(st.st_mode & stat.S_IXUSR)
    if st.st_gid == gid:
        return bool(st.st_mode & stat.S_IXGRP)
    return bool(st.st_mode & stat.S_IXOTH)


def runtime_paths() -> list[Path]:
    """What every child needs to read: Python, its standard library, site-packages, cnnlab."""
    import cnnlab

    found = [Path(sys.prefix), Path(sys.base_prefix), Path(sys.executable).resolve().parent,
             Path(os.__file__).resolve().parent, Path(np.__file__).resolve().parent.parent,
             Path(cnnlab.__file__).resolve().parent, CHILD.parent]
    found += [Path(p) for p in site.getsitepackages()]
    return [p.resolve() for p in found if p.exists()]


def course_roots() -> list[Path]:
    """Course folders (a folder holding ``solutions/``) above the cnnlab package and the working directory."""
    import cnnlab

    roots = []
    for start in (Path(cnnlab.__file__).resolve().parent, Path.cwd().resolve()):
        for folder in (start, *start.parents):
            if (folder / "solutions").is_dir() or (folder / "exercises").is_dir():
                roots.append(folder)
                break
    return roots


def hide_plan(secrets_: list[Path], keeps: list[Path], user: tuple[int, int, str] | None) -> list[list]:
    """[[folder, [paths inside it to keep]], ...]: each folder is covered, its keeps brought back.

    When the child drops to ``user``, folders on the way to a kept path that the user may
    not enter (e.g. a Python installed under /root) are covered too, so that the kept path
    becomes reachable.
    """
    keeps = sorted({k.resolve() for k in keeps}, key=lambda p: (len(p.parts), str(p)))
    keeps = [k for i, k in enumerate(keeps) if not any(_inside(k, other) for other in keeps[:i])]
    folders = {Path(s).resolve() for s in secrets_ if Path(s).exists()}
    if user:
        for keep in keeps:
            for folder in reversed(keep.parents[:-1]):           # from the top down, / excluded
                if not _traversable(folder, user[0], user[1]):
                    folders.add(folder)
                    break
    plan: list[list] = []
    for folder in sorted(folders, key=lambda p: (len(p.parts), str(p))):
        if folder in SYSTEM_DIRS or folder.is_file() or any(_inside(folder, k) for k in keeps):
            continue
        if any(_inside(folder, done) and not any(_inside(folder, k) for k in inner)
               for done, inner in ((Path(p), [Path(k) for k in ks]) for p, ks in plan)):
            continue
        plan.append([str(folder), [str(k) for k in keeps if _inside(k, folder) and k != folder]])
    return plan


_ORIGINS: dict[str, list[str]] = {}


def module_files(name: str) -> list[str]:
    """Files and folders of an installed module (for hiding a forbidden one); [] if unknown."""
    if name not in _ORIGINS:
        found: list[str] = []
        parent = name.rpartition(".")[0]
        if not parent or parent in sys.modules:
            try:
                spec = importlib.util.find_spec(name)
            except (ImportError, ValueError):
                spec = None
            if spec is not None and spec.submodule_search_locations:
                found = [str(Path(p).resolve()) for p in spec.submodule_search_locations if Path(p).is_dir()]
            elif spec is not None and spec.origin and Path(spec.origin).is_file():
                found = [str(Path(spec.origin).resolve())]
                if spec.cached and Path(spec.cached).is_file():
                    found.append(str(Path(spec.cached).resolve()))
        _ORIGINS[name] = found
    return _ORIGINS[name]


# --------------------------------------------------------------------------- cgroups

def cgroup_hierarchies() -> dict[str, str]:
    """Where this process may create cgroups (root only): {"pids": folder, "cpu": folder}.

    One ``pids`` group per child caps its processes (a fork bomb stops there, and every
    process left is found and killed); one ``cpu`` group gives all of a child's processes
    together the share of a single process, so a bomb cannot starve the other children.
    """
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


def make_cgroups(hierarchies: dict[str, str], max_pids: int) -> list[Path]:
    """A fresh group in each hierarchy (one if they coincide), the pids group capped at ``max_pids``."""
    groups: list[Path] = []
    name = f"cnnlab-{secrets.token_hex(6)}"
    for folder in dict.fromkeys(hierarchies.values()):
        group = Path(folder) / name
        try:
            group.mkdir()
            if (group / "pids.max").exists():
                (group / "pids.max").write_text(str(max_pids))
        except OSError:
            for made in [*groups, group]:
                remove_cgroup(made)
            return []
        groups.append(group)
    return groups


def remove_cgroup(group: Path) -> bool:
    """Kill every process left in the group, then remove it. True when it is gone."""
    for _ in range(200):
        if not group.exists():
            return True
        try:
            pids = [int(p) for p in (group / "cgroup.procs").read_text().split()]
        except OSError:
            pids = []
        if not pids:
            try:
                group.rmdir()
                return True
            except OSError:
                pass
        if (group / "cgroup.kill").exists():
            try:
                (group / "cgroup.kill").write_text("1")
            except OSError:
                pass
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.01)
    return not group.exists()


# --------------------------------------------------------------------------- one child

@dataclass
class ChildRun:
    """How a child ended. ``result`` is only a path: read it with ``load_result``."""

    returncode: int | None
    timed_out: bool
    seconds: float
    result: Path
    nonce: str
    stderr: str = ""
    setup_failed: bool = False


def child_env(workdir: Path) -> dict[str, str]:
    return {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(workdir), "TMPDIR": str(workdir),
            "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "MPLBACKEND": "Agg",
            "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
            "NUMEXPR_NUM_THREADS": "1"}


def _wait(proc: subprocess.Popen, timeout: float) -> bool:
    """Wait for the child to end without reaping it (its process group stays killable). True on timeout."""
    try:
        fd = os.pidfd_open(proc.pid)
    except (AttributeError, OSError):
        fd = None
    if fd is not None:
        try:
            ready, _, _ = select.select([fd], [], [], timeout)
            return not ready
        finally:
            os.close(fd)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None:
            return False
        time.sleep(0.005)
    return True


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _remove_tree(path: Path) -> None:
    def unlock(func, target, _exc):
        try:
            os.chmod(os.path.dirname(target), 0o700)
            os.chmod(target, 0o700)
            func(target)
        except OSError:
            pass
    shutil.rmtree(path, onerror=unlock)


class Sandbox:
    """One grading run's sandbox: a private temp folder, the isolation found on this host, the limits.

    Use as a context manager; ``run`` starts one child and waits for it.
    """

    def __init__(self, limits: Limits, isolation: Isolation, secret_paths: list[Path] | None = None,
                 keep_paths: list[Path] | None = None, work_root: Path | None = None):
        self.limits, self.isolation = limits, isolation
        self.root = Path(tempfile.mkdtemp(prefix="cnnlab-grade-", dir=work_root)).resolve()
        os.chmod(self.root, 0o711)
        self.empty = self.root / "empty"
        self.empty.write_bytes(b"")
        os.chmod(self.empty, 0o444)
        keeps = runtime_paths() + [self.root] + [Path(p) for p in keep_paths or []]
        secret = course_roots() + [Path(p) for p in secret_paths or []]
        self.plan = hide_plan(secret, keeps, isolation.user) if isolation.mount else []
        self.hidden = [p for p, _ in self.plan]

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self.root.exists():
            _remove_tree(self.root)

    def task_dir(self) -> tuple[Path, Path, Path]:
        task = Path(tempfile.mkdtemp(dir=self.root))
        os.chmod(task, 0o711)
        out, work = task / "out", task / "work"
        out.mkdir(mode=0o700)
        work.mkdir(mode=0o700)
        if self.isolation.user:
            os.chown(work, self.isolation.user[0], self.isolation.user[1])
        return task, out, work

    def isolation_spec(self, work: Path, blank: list[str]) -> dict:
        iso = self.isolation
        spec = {"userns": iso.userns, "mount": iso.mount, "readonly": iso.mount and iso.readonly, "net": iso.net,
                "pid": iso.pid, "ipc": iso.ipc, "uts": iso.uts, "workdir": str(work), "hide": self.plan,
                "blank": blank if iso.mount else [], "empty_file": str(self.empty),
                "drop": list(iso.user[:2]) if iso.user else None}
        if iso.mount:
            owner = f",uid={iso.user[0]},gid={iso.user[1]}" if iso.user else ""
            spec["work_tmpfs"] = f"mode=0700,size={self.limits.file_mb}m{owner}"
        return spec

    def run(self, job: dict, blank: list[str] | None = None, mode: str = "grade",
            extra_spec: dict | None = None) -> ChildRun:
        """Run one job (``name``, ``source``, ``inputs``, ``schema``, ``forbidden``, ``probe``) in a fresh child."""
        task, out, work = self.task_dir()
        nonce = secrets.token_hex(16)
        result = out / f"{nonce}.{'npz' if mode == 'grade' else 'json'}"
        groups = make_cgroups(self.isolation.cgroups, self.limits.nproc)
        spec = self.isolation_spec(work, blank or [])
        spec["cgroups"] = [str(g) for g in groups]
        spec.update(extra_spec or {})
        limits = self.limits.for_child()
        if groups and "pids" in self.isolation.cgroups:
            limits["nproc"] = None            # the pids group caps each child; RLIMIT_NPROC would be shared
        full = dict(job, mode=mode, nonce=nonce, result=str(result), isolation=spec,
                    limits=limits, max_output_bytes=self.limits.output_mb * MB)
        (out / "job.json").write_text(json.dumps(full))
        stderr_path = out / "stderr"
        start = time.monotonic()
        try:
            with open(stderr_path, "wb") as stderr:
                proc = subprocess.Popen([sys.executable, "-I", "-B", str(CHILD), str(task)],
                                        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=stderr,
                                        cwd=work, env=child_env(work), start_new_session=True, close_fds=True)
            try:
                timed_out = _wait(proc, self.limits.timeout)
            finally:
                _kill_group(proc.pid)
                proc.wait()
                for group in groups:
                    remove_cgroup(group)
            seconds = time.monotonic() - start
            with open(stderr_path, "rb") as f:
                err = f.read(4096).decode("utf-8", "replace")
            setup_failed = proc.returncode == SETUP_FAILED and f"cnnlab-sandbox-setup-failed {nonce}" in err
            kept = task.with_suffix(".result")
            if result.exists() and result.stat().st_size > 0:      # created empty before the learner ran
                os.replace(result, kept)
            return ChildRun(proc.returncode, timed_out, seconds, kept, nonce, err, setup_failed)
        finally:
            _remove_tree(task)


# --------------------------------------------------------------------------- reading the answer

def load_result(path: Path, nonce: str | None, n_cases: int, cap_bytes: int) -> tuple[dict, dict[str, np.ndarray]]:
    """The child's meta data and arrays, after checking everything about the file first."""
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
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError) as err:
        raise BadResult(f"the result file is not an npz archive ({err})") from None
    if len(members) > 10_000 or sum(m.file_size for m in members) > cap_bytes + MB:
        raise BadResult("the result archive is too large")
    try:
        with np.load(path, allow_pickle=False) as data:
            raw = data["meta"]
            if raw.dtype.kind != "U" or raw.ndim != 0 or raw.size * raw.itemsize > MB:
                raise BadResult("the result has no readable meta data")
            meta = json.loads(str(raw))
            keys = set(data.files) - {"meta"}
            arrays = {}
            for key in keys:
                value = data[key]
                if value.dtype.kind not in "fiub" or value.dtype.hasobject:
                    raise BadResult(f"array {key!r} has dtype {value.dtype}")
                arrays[key] = value
    except BadResult:
        raise
    except Exception as err:                  # noqa: BLE001 - any malformed file is just bad
        raise BadResult(f"the result file could not be read ({type(err).__name__})") from None
    _check_meta(meta, nonce, n_cases, arrays)
    return meta, arrays


def _check_meta(meta, nonce: str | None, n_cases: int, arrays: dict) -> None:
    if not isinstance(meta, dict) or (nonce is not None and meta.get("nonce") != nonce):
        raise BadResult("the result is not the one this grader asked for")
    for part in ("cell", "function"):
        if not isinstance(meta.get(part), dict):
            raise BadResult(f"the result has no {part} section")
    cases = meta.get("cases")
    if not isinstance(cases, list) or not isinstance(meta.get("forbidden", []), list):
        raise BadResult("the result has no case list")
    if meta["cell"].get("ok") and meta["function"].get("ok") and len(cases) != n_cases:
        raise BadResult(f"the result has {len(cases)} cases, expected {n_cases}")
    for case in cases:
        if not isinstance(case, dict):
            raise BadResult("a case of the result is malformed")
        if case.get("ok"):
            tree_arrays(case.get("tree"), arrays)


def tree_arrays(tree, arrays: dict, depth: int = 0):
    """Rebuild an answer from its tree of array keys: an array or a tuple of them."""
    if depth > 8 or not isinstance(tree, dict):
        raise BadResult("an answer in the result is malformed")
    if "a" in tree:
        if tree["a"] not in arrays:
            raise BadResult("an answer refers to a missing array")
        return arrays[tree["a"]]
    if isinstance(tree.get("t"), list):
        return tuple(tree_arrays(t, arrays, depth + 1) for t in tree["t"])
    raise BadResult("an answer in the result is malformed")


# --------------------------------------------------------------------------- what this host allows

_DETECTED: dict[tuple, Isolation] = {}
_DETECT_LOCK = threading.Lock()


def detect_isolation(sandbox_user: str | None = None, limits: Limits | None = None) -> Isolation:
    """Probe once per process what isolation works here (namespaces, cgroup, dropped user)."""
    user, note = sandbox_identity(sandbox_user)
    key = (user, os.geteuid())
    with _DETECT_LOCK:
        if key not in _DETECTED:
            _DETECTED[key] = _detect(user, [note] if note else [], limits or Limits(timeout=20))
        found = _DETECTED[key]
        return Isolation(**{**asdict(found), "notes": list(found.notes)})


def _detect(user, notes: list[str], limits: Limits) -> Isolation:
    wanted = Isolation(user=user, userns=os.geteuid() != 0, mount=True, readonly=True, net=True, pid=True, ipc=True,
                       uts=True,
                       cgroups=cgroup_hierarchies())
    report = _probe(wanted, limits, notes)
    if report is None and wanted.userns:
        wanted.userns = False
        report = _probe(wanted, limits, notes)
    if report is not None and user and not (report.get("imports") and report.get("uid") == user[0]):
        notes.append(f"user {user[2]} cannot read the Python installation here: privileges are not dropped")
        wanted.user = None
        report = _probe(wanted, limits, notes)
    if report is None:
        return Isolation(notes=notes + ["the sandbox probe failed: only resource limits apply"])
    done, failed = set(report.get("done", [])), report.get("failed", {})
    found = Isolation(user=wanted.user if "drop" in done else None, userns="user" in done,
                      mount="mount" in done and "private" in done and not any(k.startswith("hide") for k in failed),
                      readonly="readonly" in done and not report.get("writable"),
                      net="net" in done and report.get("interfaces") == ["lo"],
                      pid="pid" in done and "proc" in done, ipc="ipc" in done, uts="uts" in done,
                      cgroups=wanted.cgroups if "cgroups" in done else {}, notes=notes)
    for step, why in failed.items():
        found.notes.append(f"{step} unavailable: {why}")
    if report.get("writable"):
        found.notes.append(f"learner code can write to {', '.join(report['writable'])}")
    if report.get("visible"):
        found.mount = found.readonly = False
        found.notes.append("hidden folders were still visible inside the sandbox")
    if not found.mount:
        found.notes.append("without a mount namespace, learner code can read every file its user can read "
                           "(the installed cnnlab package included); keep submissions and solutions out of reach")
    if os.geteuid() == 0 and "pids" not in found.cgroups and not found.user:
        found.notes.append("as root without a pids cgroup or a dropped user, only the wall-clock kill "
                           "stops a fork bomb")
    return found


def vanishing_samples(plan: list[list]) -> list[str]:
    """One entry of each covered folder that is not on the way to a kept path: it must vanish."""
    samples = []
    for folder, keeps in plan:
        kept = [Path(k) for k in keeps]
        try:
            entries = sorted(Path(folder).iterdir())
        except OSError:
            continue
        sample = next((e for e in entries if not any(_inside(k, e) for k in kept)), None)
        if sample is not None:
            samples.append(str(sample))
    return samples


def _probe(wanted: Isolation, limits: Limits, notes: list[str]) -> dict | None:
    sandbox = Sandbox(limits, wanted)
    try:
        checks = {"must_vanish": vanishing_samples(sandbox.plan)}
        run = sandbox.run({"name": None}, mode="probe", extra_spec=checks)
        if run.returncode != 0 or not run.result.exists():
            notes.append(f"sandbox probe ended with code {run.returncode}: {run.stderr.strip()[-300:]}")
            return None
        if run.result.stat().st_size > MB:
            return None
        return json.loads(run.result.read_text())
    except (OSError, ValueError) as err:
        notes.append(f"sandbox probe failed: {err}")
        return None
    finally:
        sandbox.close()
