"""The sandbox's fork server: import NumPy (and torch) once, then fork one isolated child per exercise. Lesson: exercises.

The parent (``sandbox.py``) starts this file as a script, never as part of the package::

    python -I -B zygote.py SPEC.json

``SPEC.json`` names what to import before forking (NumPy; torch for the chapters that use
it), the exercises' test inputs and the module their probes live in. After that the server
reads one JSON request per line on stdin and answers one JSON line per event on stdout:

- ``{"op": "run", "id": N, "job": {...}}`` starts a child; ``{"started": N, "pid": P}``, then
  ``{"done": N, "status": S, "timed_out": bool, "seconds": T, "setup_error": TEXT or null}``
  when the child has ended and everything it left is killed;
- end of input: every child is killed, the server leaves.

A child is never the server itself: the server runs no learner code and reads nothing a
child writes, except one line on a private pipe that says its isolation is complete. The
order of a child's steps is the point:

1. trusted set-up, still with the grader's privileges: a new session, a cgroup where there
   is one, the result file opened, new namespaces and the allow-list view of the file
   system (``pivot_root``) where the host allows them;
2. a dedicated user id (never root, never the grader's), the parent-death signal, no new
   privileges, Landlock (files, TCP, signals), seccomp (no sockets, ptrace, namespaces,
   mounts, ...), resource limits;
3. the learner's cell runs with its output discarded and an import guard installed; the
   function is called once per case and each answer becomes plain arrays;
4. one ``.npz`` goes to the result file and the process leaves with ``os._exit``.

Nothing here decides a score: the parent checks the result file against a strict schema
and compares the arrays with its own reference. Linux calls come from ``kernel.py``.
"""

from __future__ import annotations

import ast
import builtins
import importlib.util
import io
import json
import os
import resource
import select
import signal
import sys
import time

SETUP_FAILED = 97                 # exit code: the sandbox could not be built (a grader problem)
SETUP_SECONDS = 60                # the time a child may take to isolate itself; its own time starts after that
MESSAGE_CHARS = 300               # learner messages are cut to this length
HERE = os.path.dirname(os.path.abspath(__file__))
PR_SET_CHILD_SUBREAPER = 36
GUARDED_ALWAYS = ("cnnlab.checks", "cnnlab.grading")


def _load(name: str, path: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


kernel = _load("cnnlab_sandbox_kernel", os.path.join(HERE, "kernel.py"))


class SetupError(RuntimeError):
    """An isolation step failed: the child must not run learner code."""


# --------------------------------------------------------------------------- isolation of one child

def _write(path: str, text: str) -> None:
    with open(path, "w") as f:
        f.write(text)


def enter_view(view: dict) -> None:
    """Build the allow-list view in a fresh tmpfs and make it the root (mount namespace only).

    ``view``: ``root`` (an empty folder to build in); ``binds`` ([path, is_dir]: folders and
    files bound whole, read-only); ``covers`` ([path, is_dir]: denied paths inside them, covered
    by an empty read-only folder or file); ``files`` (course files bound on top of a cover);
    ``links`` ([path, target]); ``devices``; ``writable`` ([path, size_mb]: private tmpfs folders
    owned by the learner's user); ``uid``/``gid``.
    """
    root = view["root"]
    ro = kernel.MS_RDONLY | kernel.MS_NOSUID | kernel.MS_NODEV
    kernel.mount(None, "/", None, kernel.MS_REC | kernel.MS_PRIVATE)
    kernel.mount("tmpfs", root, "tmpfs", kernel.MS_NOSUID | kernel.MS_NODEV, "mode=0755,size=4m")
    for path, target in view["links"]:
        os.makedirs(os.path.dirname(root + path), exist_ok=True)
        os.symlink(target, root + path)
    for path, is_dir in view["binds"]:
        _bind(path, root + path, is_dir)
    for path, is_dir in view["covers"]:
        if is_dir:
            kernel.mount("tmpfs", root + path, "tmpfs", kernel.MS_NOSUID | kernel.MS_NODEV, "mode=0755,size=1m")
        else:
            kernel.mount("/dev/null", root + path, None, kernel.MS_BIND)
    for path in view["files"]:
        _bind(path, root + path, False)
    for path, is_dir in view["covers"]:
        if is_dir:
            kernel.mount(None, root + path, None, kernel.MS_REMOUNT | ro)
    os.makedirs(root + "/dev", exist_ok=True)
    for device in view["devices"]:
        open(root + device, "a").close()
        kernel.mount(device, root + device, None, kernel.MS_BIND)
    os.makedirs(root + "/proc", exist_ok=True)
    kernel.mount("proc", root + "/proc", "proc", kernel.MS_NOSUID | kernel.MS_NODEV | kernel.MS_NOEXEC)
    for path, size_mb in view["writable"]:
        os.makedirs(root + path, exist_ok=True)
        kernel.mount("tmpfs", root + path, "tmpfs", kernel.MS_NOSUID | kernel.MS_NODEV,
                     f"mode=0700,size={size_mb}m,uid={view['uid']},gid={view['gid']}")
    os.makedirs(root + "/.old", exist_ok=True)
    os.chdir(root)
    kernel.pivot_root(".", ".old")
    os.chdir("/")
    kernel.umount("/.old")
    os.rmdir("/.old")
    kernel.mount(None, "/", None, kernel.MS_REMOUNT | ro)


def _bind(source: str, target: str, is_dir: bool) -> None:
    """Bind ``source`` at ``target`` (creating the mount point), then make it read-only."""
    if is_dir:
        os.makedirs(target, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        if not os.path.exists(target):
            open(target, "a").close()
    kernel.mount(source, target, None, kernel.MS_BIND | kernel.MS_REC)
    kernel.mount(None, target, None, kernel.MS_REMOUNT | kernel.MS_BIND | kernel.MS_RDONLY
                 | kernel.MS_NOSUID | kernel.MS_NODEV)


def drop_privileges(uid: int, gid: int) -> None:
    os.setgroups([])
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)
    if os.getuid() != uid or os.geteuid() != uid or os.getgid() != gid:
        raise OSError("privileges were not dropped")


def _mapped_bytes() -> int:
    try:
        with open("/proc/self/status") as f:
            return next((int(line.split()[1]) * 1024 for line in f if line.startswith("VmSize:")), 0)
    except OSError:
        return 0


def set_limits(limits: dict) -> None:
    """CPU seconds, address space on top of what is mapped now, processes, file size, open files."""
    mapped = _mapped_bytes()
    wanted = [(resource.RLIMIT_CPU, limits["cpu"], limits["cpu"] + 1),
              (resource.RLIMIT_AS, mapped + limits["memory"], mapped + limits["memory"]),
              (resource.RLIMIT_FSIZE, limits["fsize"], limits["fsize"]),
              (resource.RLIMIT_NOFILE, limits["nofile"], limits["nofile"]),
              (resource.RLIMIT_CORE, 0, 0)]
    if limits.get("nproc"):
        wanted.append((resource.RLIMIT_NPROC, limits["nproc"], limits["nproc"]))
    for which, soft, hard in wanted:
        _, old_hard = resource.getrlimit(which)
        if old_hard != resource.RLIM_INFINITY:
            soft, hard = min(soft, old_hard), min(hard, old_hard)
        resource.setrlimit(which, (soft, hard))


def isolate(iso: dict, status_w: int, result_fd: int) -> None:
    """Every isolation step, in order; raise SetupError naming the step that failed.

    With a pid namespace the process forks once: the outer process only waits for pid 1 of
    the new namespace and passes its exit status on.
    """
    def step(name, action, *args):
        try:
            action(*args)
        except Exception as err:               # noqa: BLE001 - reported to the parent
            raise SetupError(f"{name}: {err}") from err

    for group in iso.get("cgroups", []):
        step("cgroup", _write, os.path.join(group, "cgroup.procs"), str(os.getpid()))
    flags = sum(kernel.NAMESPACES[kind] for kind in iso.get("namespaces", []))
    if flags:
        step("namespaces", kernel.unshare, flags)
    if "pid" in iso.get("namespaces", []):
        inner = os.fork()
        if inner:                              # outer: wait for the namespace's pid 1
            os.close(status_w)
            os.close(result_fd)
            _, status = os.waitpid(inner, 0)
            os._exit(os.WEXITSTATUS(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status))
        step("parent-death signal", kernel.prctl, kernel.PR_SET_PDEATHSIG, signal.SIGKILL)
    if iso.get("view"):
        step("file-system view", enter_view, iso["view"])
    ruleset = None
    if iso.get("landlock"):                    # built while the grader's privileges can still open every path
        rules = iso["landlock"]
        try:
            ruleset = kernel.landlock_ruleset(rules["read"], rules["write"], rules["listable"], rules["abi"])
        except Exception as err:               # noqa: BLE001
            raise SetupError(f"Landlock: {err}") from err
    if iso.get("uid") is not None:
        step("dedicated user", drop_privileges, iso["uid"], iso["gid"])
    step("parent-death signal", kernel.prctl, kernel.PR_SET_PDEATHSIG, signal.SIGKILL)   # setuid cleared it
    step("no new privileges", kernel.no_new_privs)
    if ruleset is not None:
        step("Landlock", kernel.landlock_enforce, ruleset)
    if iso.get("seccomp"):
        step("seccomp", kernel.seccomp_install)
    step("resource limits", set_limits, iso["limits"])
    step("working directory", os.chdir, iso["workdir"])


# --------------------------------------------------------------------------- import guard

class Forbidden(ImportError):
    """Raised when the learner's code reaches for a module the exercise forbids."""


class ImportGuard:
    """Blocks forbidden modules: a meta-path finder, a wrapped ``__import__`` and stand-in attributes.

    It stays on for everything learner code can reach, the exercise's probe included.
    """

    def __init__(self, forbidden: list[str]):
        self.forbidden = tuple(forbidden)
        self.attempts: list[str] = []
        self.original_import = builtins.__import__

    def blocked(self, name: str) -> bool:
        return any(name == f or name.startswith(f + ".") for f in self.forbidden)

    def refuse(self, name: str) -> Forbidden:
        if name not in self.attempts and len(self.attempts) < 10:
            self.attempts.append(name)
        return Forbidden(f"{name} is not allowed in this exercise")

    def find_spec(self, name, path=None, target=None):          # meta-path finder protocol
        if self.blocked(name):
            raise self.refuse(name)
        return None

    def guarded_import(self, name, globals=None, locals=None, fromlist=(), level=0):
        if level == 0:
            wanted = [name] + [f"{name}.{item}" for item in (fromlist or ()) if isinstance(item, str) and item != "*"]
            if fromlist and "*" in fromlist:
                wanted += [f for f in self.forbidden if f.startswith(name + ".")]
            for target in wanted:
                if self.blocked(target):
                    raise self.refuse(target)
        return self.original_import(name, globals, locals, fromlist, level)

    def install(self) -> None:
        for module in [m for m in sys.modules if self.blocked(m)]:
            del sys.modules[module]
        for name in self.forbidden:
            parent, _, attr = name.rpartition(".")
            owner = sys.modules.get(parent) if parent else None
            if owner is not None and hasattr(owner, attr):
                setattr(owner, attr, _Blocked(self, name))
        sys.meta_path.insert(0, self)
        builtins.__import__ = self.guarded_import


class _Blocked:
    """Stands in for a forbidden attribute of an allowed module (e.g. ``numpy.convolve``)."""

    def __init__(self, guard: ImportGuard, name: str):
        object.__setattr__(self, "_guard", guard)
        object.__setattr__(self, "_name", name)

    def _refuse(self):
        return object.__getattribute__(self, "_guard").refuse(object.__getattribute__(self, "_name"))

    def __getattr__(self, attr):
        raise self._refuse()

    def __call__(self, *args, **kwargs):
        raise self._refuse()


# --------------------------------------------------------------------------- running the learner's code

def set_aside(node: ast.AST) -> bool:
    """Top-level expressions and imports of ``cnnlab.checks`` are left out (as ``scan.set_aside``)."""
    if isinstance(node, ast.Expr):
        return True
    if isinstance(node, ast.ImportFrom) and not node.level:
        return (node.module or "").split(".")[:2] == ["cnnlab", "checks"]
    if isinstance(node, ast.Import):
        return all(a.name.split(".")[:2] == ["cnnlab", "checks"] for a in node.names)
    return False


def definitions_only(source: str) -> ast.Module:
    """The cell without its top-level expression statements (``print``, ``check(...)``) and checks imports."""
    tree = ast.parse(source, filename="<your cell>")
    tree.body = [node for node in tree.body if not set_aside(node)]
    return tree


def text_of(err: BaseException) -> str:
    try:
        message = str(err)
    except BaseException:                   # noqa: BLE001 - a learner's __str__ may fail
        message = ""
    name = type(err).__name__
    text = f"{name}: {message}" if message else name
    return "".join(ch if ch.isprintable() else " " for ch in text)[:MESSAGE_CHARS]


def failure(err: BaseException) -> dict:
    """What went wrong in the learner's code, as data (the kinds are ``cnnlab.common.FailureKind`` values)."""
    if isinstance(err, Forbidden):
        kind = "forbidden"
    elif isinstance(err, NotImplementedError):
        kind = "not implemented"
    elif isinstance(err, MemoryError):
        kind = "memory"
    elif isinstance(err, SystemExit):
        kind = "exit"
    else:
        kind = "exception"
    return {"ok": False, "kind": kind, "message": text_of(err)}


def to_plain(value, arrays: dict, np, depth: int = 0) -> dict:
    """A tree of array keys for ``value``: the same rules as ``cnnlab.checks.as_plain``."""
    if depth > 8:
        raise TypeError("the answer is nested too deeply")
    if isinstance(value, tuple | list):
        if len(value) > 64:
            raise TypeError("the answer has too many parts")
        return {"t": [to_plain(v, arrays, np, depth + 1) for v in value]}
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    if isinstance(value, bool | int | float | np.number | np.bool_):
        value = np.asarray(value)
    if type(value) is not np.ndarray:
        raise TypeError(f"expected a NumPy array or a number, got {type(value).__name__}")
    if value.dtype.kind not in "fiub" or value.dtype.itemsize > 8:
        raise TypeError(f"expected numbers, got an array of dtype {value.dtype}")
    key = f"r{len(arrays)}"
    arrays[key] = np.array(value, copy=True, order="C")
    return {"a": key}


def run_learner(job: dict, cases: list[dict], probe, np) -> tuple[dict, dict]:
    """Exec the cells (the ``uses`` cells first), call the function per case; return (meta, arrays)."""
    meta = {"nonce": job["nonce"], "cell": {"ok": True}, "function": {"ok": True}, "cases": []}
    arrays: dict = {}
    namespace = {"__name__": "__main__", "__builtins__": builtins}
    for source in [*job.get("uses", []), job["source"]]:
        try:
            exec(compile(definitions_only(source), "<your cell>", "exec"), namespace)
        except BaseException as err:        # noqa: BLE001 - whatever the cell does, report it
            meta["cell"] = failure(err)
            return meta, arrays
    fn = namespace.get(job["name"])
    if not callable(fn):
        defined = sorted(k for k, v in namespace.items() if callable(v) and not k.startswith("__")
                         and getattr(v, "__module__", None) == "__main__")
        meta["function"] = {"ok": False, "defined": [d[:60] for d in defined[:10]]}
        return meta, arrays
    budget = job["max_output_bytes"]
    for case in cases:
        copies = {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in case.items()}
        try:
            result = fn(**copies)
        except BaseException as err:        # noqa: BLE001
            meta["cases"].append(failure(err))
            continue
        if probe is not None:
            try:
                result = probe(result, case)
            except BaseException as err:    # noqa: BLE001 - the answer could not be examined
                meta["cases"].append({"ok": False, "kind": "probe", "message": text_of(err)})
                continue
        mark = len(arrays)
        try:
            tree = to_plain(result, arrays, np)
        except BaseException as err:        # noqa: BLE001
            for key in list(arrays)[mark:]:
                del arrays[key]
            meta["cases"].append({"ok": False, "kind": "convert", "message": text_of(err)})
            continue
        budget -= sum(arrays[k].nbytes for k in list(arrays)[mark:])
        if budget < 0:
            for key in list(arrays)[mark:]:
                del arrays[key]
            meta["cases"].append({"ok": False, "kind": "too big", "message": "the answer is too large"})
            continue
        meta["cases"].append({"ok": True, "tree": tree})
    return meta, arrays


def silence() -> None:
    """Learner output goes nowhere: nobody reads what the learner prints."""
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.close(null)


def child(job: dict, exercise: dict, status_w: int) -> None:
    """The forked child: isolate, then run the learner's code (never returns)."""
    try:
        silence()
        os.setsid()
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGPIPE, signal.SIGCHLD):
            signal.signal(sig, signal.SIG_DFL)
        result_fd = os.open(job["result"], os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        close_other_files({0, 1, 2, status_w, result_fd})
        workdir = job["isolation"]["workdir"]
        os.environ.update(HOME=workdir, TMPDIR=workdir)
        if job["mode"] == "selftest":
            isolate_and_report(job, status_w, result_fd)
        isolate(job["isolation"], status_w, result_fd)
        os.write(status_w, b"ok\n")
        os.close(status_w)
    except BaseException as err:           # noqa: BLE001 - the parent learns which step failed
        try:
            os.write(status_w, f"error {err}"[:2000].encode("utf-8", "replace") + b"\n")
        finally:
            os._exit(SETUP_FAILED)
    import numpy as np

    savez, dumps, array, BytesIO, write = np.savez, json.dumps, np.array, io.BytesIO, os.write
    guard = ImportGuard([*job["forbidden"], *GUARDED_ALWAYS])
    guard.install()
    meta, arrays = run_learner(job, exercise["cases"], exercise["probe"], np)
    meta["forbidden"] = list(guard.attempts)
    buffer = BytesIO()
    try:
        savez(buffer, **arrays, meta=array(dumps(meta)))
    except BaseException as err:           # noqa: BLE001 - e.g. out of memory: say so instead of a broken file
        buffer = BytesIO()
        meta = {"nonce": job["nonce"], "cell": failure(err), "function": {"ok": True}, "cases": [],
                "forbidden": meta["forbidden"]}
        savez(buffer, meta=array(dumps(meta)))
    data = memoryview(buffer.getvalue())   # written whole, in as few calls as the kernel needs
    while data:
        data = data[write(result_fd, data):]
    os._exit(0)


def close_other_files(keep: set[int]) -> None:
    """Close every inherited descriptor but ``keep`` (the server's pipes, other children's pipes)."""
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd not in keep:
            try:
                os.close(fd)
            except OSError:
                pass


def isolate_and_report(job: dict, status_w: int, result_fd: int) -> None:
    """Self-test mode: isolate exactly as for learner code, then report what can still be reached."""
    isolate(job["isolation"], status_w, result_fd)
    os.write(status_w, b"ok\n")
    os.close(status_w)
    try:
        report = reachable(job["checks"])
    except BaseException as err:           # noqa: BLE001 - a failed self-test is a result too
        report = {"error": text_of(err)}
    report["nonce"] = job["nonce"]
    with os.fdopen(result_fd, "w") as f:
        json.dump(report, f)
    os._exit(0)


def reachable(checks: dict) -> dict:
    """From inside the sandbox: who am I, and what of ``checks`` can I read, import, reach, signal or write?"""
    def attempt(action) -> str | None:
        try:
            action()
        except BaseException as err:       # noqa: BLE001 - the refusal is the answer
            return text_of(err)
        return None

    def read(path: str) -> None:
        if os.path.isdir(path):
            os.listdir(path)
        else:
            with open(path, "rb") as f:
                f.read(1)

    def connect(family: str, address) -> None:
        import socket

        with socket.socket(getattr(socket, family), socket.SOCK_STREAM) as s:
            s.settimeout(2)
            s.connect(address)

    def create(folder: str) -> None:
        path = os.path.join(folder, f"cnnlab-selftest-{checks['nonce']}")
        with open(path, "w") as f:
            f.write("x")

    report = {"uid": os.getuid(), "euid": os.geteuid(), "gid": os.getgid(), "groups": os.getgroups(),
              "readable": [p for p in checks.get("unreadable", []) if attempt(lambda p=p: read(p)) is None],
              "imports": {name: attempt(lambda name=name: __import__(name)) for name in checks.get("imports", [])},
              "written": [p for p in checks.get("write", []) if attempt(lambda p=p: create(p)) is None],
              "signalled": [pid for pid in checks.get("signal", []) if attempt(lambda pid=pid: os.kill(pid, 0)) is None]}
    if checks.get("tcp"):
        report["tcp"] = attempt(lambda: connect("AF_INET", tuple(checks["tcp"])))
    if checks.get("unix"):
        report["unix"] = attempt(lambda: connect("AF_UNIX", checks["unix"]))
    if checks.get("daemon"):
        report["daemon"] = attempt(_leave_a_daemon)
    return report


def _leave_a_daemon() -> None:
    """Fork a process that leaves the session and sleeps: the sandbox must kill it anyway."""
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            time.sleep(600)
        os._exit(0)


# --------------------------------------------------------------------------- the server

class Server:
    """Holds what every child shares (imports, test inputs, probes) and runs children on request."""

    def __init__(self, spec: dict):
        self.spec = spec
        self.exercises: dict[str, dict] = {}
        self.running: dict[int, dict] = {}        # child pid -> job record
        self.buffer = b""

    def prepare(self) -> None:
        """Everything learner code must not do for itself: imports, inputs, probes."""
        import numpy as np

        if "torch" in self.spec.get("preload", []):
            import torch

            torch.set_num_threads(1)
        probes = None
        if self.spec.get("probes"):
            probes = _load("cnnlab_sandbox_probes", self.spec["probes"])
        for name, ex in self.spec.get("exercises", {}).items():
            cases = load_cases(ex["inputs"], ex["schema"], np) if ex.get("inputs") else []
            probe = None
            if ex.get("probe"):
                probe = getattr(probes, ex["probe"]["name"])(**ex["probe"].get("args", {}))
            self.exercises[name] = {"cases": cases, "probe": probe}

    def say(self, message: dict) -> None:
        data = (json.dumps(message) + "\n").encode()
        while data:
            data = data[os.write(1, data):]

    def start(self, request: dict) -> None:
        job = request["job"]
        exercise = self.exercises.get(job.get("name"), {"cases": [], "probe": None})
        job["isolation"]["cgroups"] = make_cgroups(self.spec.get("cgroups", {}), job["isolation"]["limits"]["nproc"])
        status_r, status_w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(status_r)
            child(job, exercise, status_w)
        os.close(status_w)
        quota = job["isolation"].get("quota")          # a real working folder: its size is watched
        record = {"id": request["id"], "pid": pid, "job": job, "status_r": status_r, "status": b"", "eof": False,
                  "start": time.monotonic(), "deadline": time.monotonic() + SETUP_SECONDS, "timed_out": False,
                  "quota": quota, "over_quota": False, "ready": False}
        try:
            record["pidfd"] = os.pidfd_open(pid)
        except (AttributeError, OSError):
            record["pidfd"] = None
        self.running[pid] = record
        self.say({"started": request["id"], "pid": pid})

    def finish(self, record: dict, status: int | None) -> None:
        """Kill what the child left (its session, its user, its cgroup), then report."""
        job = record["job"]
        _kill_session(record["pid"])
        if status is None:
            _, status = os.waitpid(record["pid"], 0)
        uid = job["isolation"].get("uid")
        left = kill_user(uid) if uid is not None else 0
        for group in job["isolation"].get("cgroups", []):
            remove_cgroup(group)
        sweep_orphans(set(self.running) - {record["pid"]})     # reap what was killed before saying done
        self.drain(record)
        os.close(record["status_r"])
        if record["pidfd"] is not None:
            os.close(record["pidfd"])
        del self.running[record["pid"]]
        text = record["status"].decode("utf-8", "replace").strip()
        if text.startswith("error "):
            setup_error = text[6:]
        elif text == "ok":
            setup_error = None
        elif time.monotonic() - record["start"] >= SETUP_SECONDS:
            setup_error = f"the sandbox took more than {SETUP_SECONDS} s to set itself up"
        else:
            setup_error = f"the sandbox ended before reporting its set-up (status {status})"
        self.say({"done": record["id"], "status": status, "timed_out": record["timed_out"],
                  "over_quota": record["over_quota"],
                  "seconds": round(time.monotonic() - record["start"], 4), "setup_error": setup_error,
                  "killed_after": left})

    def drain(self, record: dict) -> None:
        """Read what the child said about its set-up (one line; anything past 4 kB is dropped).

        Once it says "ok" the learner's code runs, and the job's own time limit starts.
        """
        while not record["eof"]:
            ready, _, _ = select.select([record["status_r"]], [], [], 0)
            if not ready:
                return
            chunk = os.read(record["status_r"], 4096)
            if not chunk:
                record["eof"] = True
                return
            if len(record["status"]) < 4096:
                record["status"] += chunk
            if not record["ready"] and record["status"].startswith(b"ok\n"):
                record["ready"] = True
                record["deadline"] = time.monotonic() + record["job"]["timeout"]

    def reap(self) -> None:
        """Finish every child that has ended (or passed its deadline)."""
        now = time.monotonic()
        for record in list(self.running.values()):
            self.drain(record)
            done = os.waitpid(record["pid"], os.WNOHANG)
            if done[0]:
                self.finish(record, done[1])
            elif now >= record["deadline"]:
                record["timed_out"] = record["ready"]          # before "ok", the set-up is too slow: the grader's fault
                self.finish(record, None)
            elif record["quota"] and not within_quota(*record["quota"]):
                record["over_quota"] = True
                self.finish(record, None)
        sweep_orphans(set(self.running))

    def requests(self) -> list[dict] | None:
        chunk = os.read(0, 65536)
        if not chunk:
            return None
        self.buffer += chunk
        lines = self.buffer.split(b"\n")
        self.buffer = lines.pop()
        return [json.loads(line) for line in lines if line.strip()]

    def serve(self) -> None:
        while True:
            waiting = [0] + [r["status_r"] for r in self.running.values() if not r["eof"]]
            waiting += [r["pidfd"] for r in self.running.values() if r["pidfd"] is not None]
            deadlines = [r["deadline"] for r in self.running.values()]
            timeout = max(0.0, min(deadlines) - time.monotonic()) if deadlines else None
            if deadlines and any(r["pidfd"] is None for r in self.running.values()):
                timeout = min(timeout, 0.01)
            if any(r["quota"] for r in self.running.values()):
                timeout = min(timeout, QUOTA_POLL)
            ready, _, _ = select.select(waiting, [], [], timeout)
            if 0 in ready:
                batch = self.requests()
                if batch is None:
                    break
                for request in batch:
                    if request.get("op") == "run":
                        self.start(request)
            self.reap()
        for record in list(self.running.values()):
            self.finish(record, None)


def _kill_session(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def kill_user(uid: int) -> int:
    """SIGKILL every process of ``uid`` until none is left; return how many were found running."""
    killed = 0
    for _ in range(1000):
        pids = kernel.user_processes(uid)
        if not pids:
            break
        killed += len(pids)
        kernel.kill_all(pids)
        time.sleep(0.002)
    return killed


def sweep_orphans(running: set[int]) -> None:
    """Processes re-parented to this server (it is a subreaper) that are not a running child: kill and reap them."""
    me = str(os.getpid())
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) in running:
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if fields[1] != me:
            continue
        try:
            os.kill(int(entry), signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            os.waitpid(int(entry), 0)
        except ChildProcessError:
            pass


QUOTA_POLL = 0.1                 # seconds between two looks at a real working folder's size
QUOTA_ENTRIES = 10_000           # more files than this in a working folder is over quota by itself


def within_quota(path: str, limit_bytes: int) -> bool:
    """Whether the folder holds at most ``limit_bytes`` (allocated) in at most ``QUOTA_ENTRIES`` entries."""
    used, entries = 0, 0
    stack = [path]
    while stack:
        try:
            with os.scandir(stack.pop()) as listing:
                for entry in listing:
                    entries += 1
                    if entries > QUOTA_ENTRIES:
                        return False
                    info = entry.stat(follow_symlinks=False)
                    used += info.st_blocks * 512
                    if entry.is_dir(follow_symlinks=False):
                        stack.append(entry.path)
        except OSError:
            continue
    return used <= limit_bytes


def make_cgroups(hierarchies: dict[str, str], max_pids: int) -> list[str]:
    """A fresh group per hierarchy (one if they coincide): a pids cap, and one fair CPU share per child."""
    groups: list[str] = []
    name = f"cnnlab-{os.getpid()}-{time.monotonic_ns()}"
    for folder in dict.fromkeys(hierarchies.values()):
        group = os.path.join(folder, name)
        try:
            os.mkdir(group)
            groups.append(group)
            if os.path.exists(os.path.join(group, "pids.max")):
                _write(os.path.join(group, "pids.max"), str(max_pids))
        except OSError:
            for made in groups:
                remove_cgroup(made)
            return []
    return groups


def remove_cgroup(group: str) -> None:
    """Kill every process left in the group, then remove it."""
    for _ in range(200):
        if not os.path.isdir(group):
            return
        try:
            with open(os.path.join(group, "cgroup.procs")) as f:
                pids = [int(p) for p in f.read().split()]
        except OSError:
            pids = []
        if not pids:
            try:
                os.rmdir(group)
                return
            except OSError:
                pass
        if os.path.exists(os.path.join(group, "cgroup.kill")):
            try:
                _write(os.path.join(group, "cgroup.kill"), "1")
            except OSError:
                pass
        kernel.kill_all(pids)
        time.sleep(0.005)


def load_cases(path: str, schema: list[dict], np) -> list[dict]:
    restore = {"array": lambda a: a, "int": lambda a: int(a), "float": lambda a: float(a),
               "bool": lambda a: bool(a), "tuple": lambda a: tuple(int(v) for v in a)}
    with np.load(path, allow_pickle=False) as data:
        return [{name: restore[kind](data[f"{i}/{name}"]) for name, kind in kinds.items()}
                for i, kinds in enumerate(schema)]


def main(spec_path: str) -> None:
    with open(spec_path) as f:
        spec = json.load(f)
    kernel.prctl(kernel.PR_SET_PDEATHSIG, signal.SIGKILL)          # the grader gone: so is this server
    kernel.prctl(PR_SET_CHILD_SUBREAPER, 1)                         # orphans come here to be killed
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    server = Server(spec)
    try:
        server.prepare()
    except BaseException as err:           # noqa: BLE001 - the parent says what failed
        server.say({"ready": False, "error": text_of(err)})
        os._exit(1)
    server.say({"ready": True, "pid": os.getpid(), "preloaded": sorted(m for m in ("numpy", "torch")
                                                                       if m in sys.modules)})
    server.serve()
    os._exit(0)


if __name__ == "__main__":
    main(sys.argv[1])
