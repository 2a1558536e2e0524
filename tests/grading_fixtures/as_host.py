"""Run a command the way a grading host runs it (the grader's tests; needs root with every capability).

    python as_host.py HOST -- COMMAND [ARG ...]

HOST is one of:

- ``root``: as it is (root, every capability, namespaces allowed);
- ``docker``: as a Docker container runs its processes by default, and so Gradescope: root
  with only Docker's default capabilities (no ``CAP_SYS_ADMIN``), a seccomp filter that
  refuses new namespaces and mounts, and no writable cgroup file system;
- ``user``: an ordinary user (``nobody``) on a host without user namespaces.

Each runs in a private mount namespace where ``/root`` holds only the Python installation
(as a container image keeps Python where every user may read it) and ``/sys/fs/cgroup`` is
empty for ``docker`` and ``user``. Nothing here changes the machine outside that namespace.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1] / "cnnlab" / "grading"))
import kernel  # noqa: E402 - the grader's own ctypes layer, loaded by path

DOCKER_CAPS = ("chown", "dac_override", "fsetid", "fowner", "mknod", "net_raw", "setgid", "setuid", "setfcap",
               "setpcap", "net_bind_service", "sys_chroot", "kill", "audit_write")
# The part of Docker's default seccomp profile that matters here: what a process without
# CAP_SYS_ADMIN may not call (clone with namespace flags and clone3 are always refused by the filter).
DOCKER_REFUSED = ("unshare", "setns", "mount", "umount2", "pivot_root", "open_tree", "move_mount", "fsopen",
                  "fsconfig", "fsmount", "fspick", "mount_setattr", "keyctl", "add_key", "request_key", "bpf",
                  "perf_event_open", "userfaultfd", "kexec_load", "kexec_file_load", "init_module",
                  "finit_module", "delete_module", "reboot", "swapon", "swapoff", "acct", "quotactl",
                  "quotactl_fd", "syslog", "settimeofday", "clock_settime", "adjtimex", "iopl", "ioperm",
                  "lookup_dcookie", "fanotify_init", "open_by_handle_at", "name_to_handle_at")
NOBODY = 65534


def python_home() -> list[str]:
    """Folders under /root that hold the Python running this script (and its base installation)."""
    found = []
    for prefix in {sys.prefix, sys.base_prefix, os.path.realpath(sys.executable)}:
        parts = Path(prefix).resolve().parts
        if len(parts) > 2 and parts[1] == "root":
            found.append(str(Path("/", *parts[1:3])))
    return sorted(set(found))


def private_root() -> None:
    """A mount namespace whose /root holds only the Python installation."""
    kernel.unshare(kernel.CLONE_NEWNS)
    kernel.mount(None, "/", None, kernel.MS_REC | kernel.MS_PRIVATE)
    keep = [(path, os.open(path, os.O_PATH)) for path in python_home()]
    kernel.mount("tmpfs", "/root", "tmpfs", kernel.MS_NOSUID | kernel.MS_NODEV, "mode=0755,size=1m")
    for path, fd in keep:
        os.makedirs(path, exist_ok=True)
        kernel.mount(f"/proc/self/fd/{fd}", path, None, kernel.MS_BIND | kernel.MS_REC)
        os.close(fd)


def no_cgroups() -> None:
    if os.path.isdir("/sys/fs/cgroup"):
        kernel.mount("tmpfs", "/sys/fs/cgroup", "tmpfs", kernel.MS_NOSUID | kernel.MS_NODEV | kernel.MS_RDONLY,
                     "mode=0555,size=4k")


def main(argv: list[str]) -> None:
    host, separator, *command = argv
    if separator != "--" or not command or host not in ("root", "docker", "user"):
        raise SystemExit(__doc__)
    if host == "root":
        os.execvp(command[0], command)
    private_root()
    no_cgroups()
    kernel.seccomp_install(DOCKER_REFUSED)            # as root with every capability: no_new_privs not needed
    caps = ",".join(["-all", *[f"+{c}" for c in DOCKER_CAPS]]) if host == "docker" else "-all"
    prefix = ["setpriv", f"--bounding-set={caps}", "--inh-caps=-all"]
    if host == "user":
        prefix += [f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]
    os.environ["HOME"] = "/tmp"
    os.environ["MPLCONFIGDIR"] = "/tmp"
    os.execvp(prefix[0], [*prefix, "--", *command])


if __name__ == "__main__":
    main(sys.argv[1:])
