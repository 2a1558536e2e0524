"""The Linux calls the grader's sandbox is built from, through ``ctypes``. Lesson: exercises.

Standard library only: the sandbox's fork server (``zygote.py``) loads this file by its
path before any learner code runs, and the parent imports it to learn what the kernel
offers. Four families of calls:

- namespaces and mounts: ``unshare``, ``mount``, ``umount2``, ``pivot_root`` (need
  ``CAP_SYS_ADMIN``, which Docker's default capability set drops);
- ``prctl``: ``no_new_privs`` (required by the two below), the parent-death signal;
- Landlock (Linux 5.13+, no privilege needed): a process restricts itself, for good, to an
  allow-list of files and folders; ABI 4 adds TCP ports, ABI 6 scopes signals and abstract
  UNIX sockets to the process's own domain;
- seccomp (no privilege needed once ``no_new_privs`` is set): a small BPF program that
  refuses the system calls learner code has no use for: sockets, ``ptrace``, new
  namespaces, mounts, keyrings, BPF, io_uring, kernel modules.

A bad call raises ``OSError`` with the kernel's errno. Nothing here decides a policy: the
parent (``sandbox.py``) decides what to allow and says so in the report.
"""

from __future__ import annotations

import ctypes
import errno
import os
import platform
import signal
import struct

# --------------------------------------------------------------------------- libc

CLONE_NEWNS, CLONE_NEWCGROUP, CLONE_NEWUTS, CLONE_NEWIPC = 0x00020000, 0x02000000, 0x04000000, 0x08000000
CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET, CLONE_NEWTIME = 0x10000000, 0x20000000, 0x40000000, 0x00000080
NAMESPACE_FLAGS = (CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER
                   | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWTIME)
NAMESPACES = {"mount": CLONE_NEWNS, "uts": CLONE_NEWUTS, "ipc": CLONE_NEWIPC, "user": CLONE_NEWUSER,
              "pid": CLONE_NEWPID, "net": CLONE_NEWNET}

MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REMOUNT = 1, 2, 4, 8, 32
MS_BIND, MS_REC, MS_PRIVATE = 4096, 16384, 1 << 18
MNT_DETACH = 2
PR_SET_PDEATHSIG, PR_SET_NO_NEW_PRIVS, PR_SET_SECCOMP, PR_GET_SECCOMP = 1, 38, 22, 21
SECCOMP_MODE_FILTER = 2

_LIBC = None


def libc():
    global _LIBC
    if _LIBC is None:
        lib = ctypes.CDLL(None, use_errno=True)
        lib.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
        lib.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
        lib.unshare.argtypes = [ctypes.c_int]
        lib.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
        lib.syscall.restype = ctypes.c_long
        _LIBC = lib
    return _LIBC


def _check(rc: int, what: str) -> int:
    if rc < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")
    return rc


def _path(text: str | None) -> bytes | None:
    return None if text is None else os.fsencode(text)


def unshare(flags: int) -> None:
    _check(libc().unshare(flags), "unshare")


def mount(source: str | None, target: str, fstype: str | None = None, flags: int = 0, data: str | None = None) -> None:
    _check(libc().mount(_path(source), _path(target), _path(fstype), flags, _path(data)), f"mount {target}")


def umount(target: str, flags: int = MNT_DETACH) -> None:
    _check(libc().umount2(_path(target), flags), f"umount {target}")


def prctl(option: int, arg: int) -> None:
    _check(libc().prctl(option, arg, 0, 0, 0), f"prctl({option})")


def no_new_privs() -> None:
    """From here on, exec can never grant privileges (setuid programs run unprivileged)."""
    prctl(PR_SET_NO_NEW_PRIVS, 1)


# --------------------------------------------------------------------------- system call numbers

# From the kernel's headers: asm/unistd_64.h (x86-64) and asm-generic/unistd.h (arm64).
SYSCALLS = {
    "x86_64": {
        "socket": 41, "ptrace": 101, "syslog": 103, "personality": 135, "vhangup": 153, "pivot_root": 155,
        "adjtimex": 159, "chroot": 161, "acct": 163, "settimeofday": 164, "mount": 165, "umount2": 166,
        "swapon": 167, "swapoff": 168, "reboot": 169, "iopl": 172, "ioperm": 173, "init_module": 175,
        "delete_module": 176, "quotactl": 179, "lookup_dcookie": 212, "clock_settime": 227, "kexec_load": 246,
        "add_key": 248, "request_key": 249, "keyctl": 250, "unshare": 272, "perf_event_open": 298,
        "fanotify_init": 300, "name_to_handle_at": 303, "open_by_handle_at": 304, "setns": 308,
        "process_vm_readv": 310, "process_vm_writev": 311, "kcmp": 312, "finit_module": 313,
        "kexec_file_load": 320, "bpf": 321, "userfaultfd": 323, "io_uring_setup": 425, "io_uring_enter": 426,
        "io_uring_register": 427, "open_tree": 428, "move_mount": 429, "fsopen": 430, "fsconfig": 431,
        "fsmount": 432, "fspick": 433, "pidfd_getfd": 438, "process_madvise": 440, "mount_setattr": 442,
        "quotactl_fd": 443, "clone": 56, "clone3": 435,
        "landlock_create_ruleset": 444, "landlock_add_rule": 445, "landlock_restrict_self": 446,
    },
    "aarch64": {
        "socket": 198, "ptrace": 117, "syslog": 116, "personality": 92, "vhangup": 58, "pivot_root": 41,
        "adjtimex": 171, "chroot": 51, "acct": 89, "settimeofday": 170, "mount": 40, "umount2": 39,
        "swapon": 224, "swapoff": 225, "reboot": 142, "init_module": 105, "delete_module": 106,
        "quotactl": 60, "lookup_dcookie": 18, "clock_settime": 112, "kexec_load": 104, "add_key": 217,
        "request_key": 218, "keyctl": 219, "unshare": 97, "perf_event_open": 241, "fanotify_init": 262,
        "name_to_handle_at": 264, "open_by_handle_at": 265, "setns": 268, "process_vm_readv": 270,
        "process_vm_writev": 271, "kcmp": 272, "finit_module": 273, "kexec_file_load": 294, "bpf": 280,
        "userfaultfd": 282, "io_uring_setup": 425, "io_uring_enter": 426, "io_uring_register": 427,
        "open_tree": 428, "move_mount": 429, "fsopen": 430, "fsconfig": 431, "fsmount": 432, "fspick": 433,
        "pidfd_getfd": 438, "process_madvise": 440, "mount_setattr": 442, "quotactl_fd": 443,
        "clone": 220, "clone3": 435,
        "landlock_create_ruleset": 444, "landlock_add_rule": 445, "landlock_restrict_self": 446,
    },
}
AUDIT_ARCH = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}
X32_SYSCALL_BIT = 0x40000000


def machine() -> str | None:
    """``x86_64`` or ``aarch64`` when this module knows the machine's system calls, else None."""
    name = platform.machine().lower()
    name = {"amd64": "x86_64", "arm64": "aarch64"}.get(name, name)
    return name if name in SYSCALLS else None


def syscall(name: str, *args) -> int:
    arch = machine()
    if arch is None:
        raise OSError(errno.ENOSYS, f"{name}: unknown system call numbers on {platform.machine()}")
    return libc().syscall(ctypes.c_long(SYSCALLS[arch][name]), *args)


def pivot_root(new_root: str, put_old: str) -> None:
    _check(syscall("pivot_root", _path(new_root), _path(put_old)), "pivot_root")


# --------------------------------------------------------------------------- Landlock

LANDLOCK_CREATE_RULESET_VERSION = 1
LANDLOCK_RULE_PATH_BENEATH, LANDLOCK_RULE_NET_PORT = 1, 2
FS = {"execute": 1 << 0, "write_file": 1 << 1, "read_file": 1 << 2, "read_dir": 1 << 3, "remove_dir": 1 << 4,
      "remove_file": 1 << 5, "make_char": 1 << 6, "make_dir": 1 << 7, "make_reg": 1 << 8, "make_sock": 1 << 9,
      "make_fifo": 1 << 10, "make_block": 1 << 11, "make_sym": 1 << 12, "refer": 1 << 13, "truncate": 1 << 14,
      "ioctl_dev": 1 << 15}
FS_BY_ABI = {1: (1 << 13) - 1, 2: (1 << 14) - 1, 3: (1 << 15) - 1, 4: (1 << 15) - 1}    # 5 and later: (1 << 16) - 1
FILE_RIGHTS = FS["execute"] | FS["write_file"] | FS["read_file"] | FS["truncate"] | FS["ioctl_dev"]
READ = FS["read_file"] | FS["read_dir"]
WRITE = (FS["write_file"] | FS["remove_dir"] | FS["remove_file"] | FS["make_dir"] | FS["make_reg"]
         | FS["truncate"])
NET_BIND_TCP, NET_CONNECT_TCP = 1 << 0, 1 << 1
SCOPE_ABSTRACT_UNIX_SOCKET, SCOPE_SIGNAL = 1 << 0, 1 << 1


def landlock_abi() -> int:
    """The Landlock ABI version this kernel offers: 0 when it has none (or seccomp hides it)."""
    try:
        version = syscall("landlock_create_ruleset", None, ctypes.c_size_t(0),
                          ctypes.c_uint32(LANDLOCK_CREATE_RULESET_VERSION))
    except OSError:
        return 0
    return max(int(version), 0)


def handled_fs(abi: int) -> int:
    """The file-system rights a ruleset of this ABI can handle (all it knows)."""
    return (1 << 16) - 1 if abi >= 5 else FS_BY_ABI.get(abi, 0)


def landlock_ruleset(read: list[str], write: list[str], listable: list[str] = (), abi: int | None = None) -> int:
    """A Landlock ruleset (a file descriptor) allowing ``read`` and ``write`` paths and nothing else.

    Every file-system right the kernel knows is handled, so anything not granted is refused;
    from ABI 4 no TCP port may be bound or connected; from ABI 6 signals and abstract UNIX
    sockets stay inside the domain. Build it while the paths can still be opened (before
    dropping privileges); ``landlock_enforce`` applies it.

    Args:
        read: files and folders that may be read (a folder: everything below it).
        write: folders where files may also be created, written and removed.
        listable: folders whose entries may be listed, but not read (names only).
        abi: the ABI to use (default: what the kernel offers).
    """
    abi = landlock_abi() if abi is None else abi
    if abi < 1:
        raise OSError(errno.ENOSYS, "Landlock is not available on this kernel")
    fs = handled_fs(abi)
    net = NET_BIND_TCP | NET_CONNECT_TCP if abi >= 4 else 0
    scoped = SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL if abi >= 6 else 0
    attr = struct.pack("QQQ", fs, net, scoped)[: 8 if abi < 4 else (16 if abi < 6 else 24)]
    buffer = ctypes.create_string_buffer(attr, len(attr))
    ruleset = _check(syscall("landlock_create_ruleset", buffer, ctypes.c_size_t(len(attr)), ctypes.c_uint32(0)),
                     "landlock_create_ruleset")
    try:
        for paths, rights in ((read, READ), (write, READ | WRITE), (listable, FS["read_dir"])):
            for path in paths:
                _landlock_rule(ruleset, path, rights & fs)
    except BaseException:
        os.close(ruleset)
        raise
    return ruleset


def landlock_enforce(ruleset: int) -> None:
    """Confine this process (and every process it starts) to the ruleset, for good. Needs ``no_new_privs``."""
    try:
        _check(syscall("landlock_restrict_self", ctypes.c_int(ruleset), ctypes.c_uint32(0)), "landlock_restrict_self")
    finally:
        os.close(ruleset)


def landlock_restrict(read: list[str], write: list[str], listable: list[str] = (), abi: int | None = None) -> None:
    """``landlock_ruleset`` and ``landlock_enforce`` in one step."""
    landlock_enforce(landlock_ruleset(read, write, listable, abi))


def _landlock_rule(ruleset: int, path: str, rights: int) -> None:
    try:
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    except FileNotFoundError:
        return                                   # nothing there to allow
    try:
        if not os.path.isdir(path):
            rights &= FILE_RIGHTS
        rule = struct.pack("=Qi", rights, fd)     # struct landlock_path_beneath_attr is packed
        buffer = ctypes.create_string_buffer(rule, len(rule))
        _check(syscall("landlock_add_rule", ctypes.c_int(ruleset), ctypes.c_int(LANDLOCK_RULE_PATH_BENEATH),
                       buffer, ctypes.c_uint32(0)), f"landlock_add_rule {path}")
    finally:
        os.close(fd)


# --------------------------------------------------------------------------- seccomp

# BPF opcodes (linux/filter.h) and seccomp return values (linux/seccomp.h).
BPF_LD_W_ABS, BPF_JMP_JEQ_K, BPF_JMP_JGE_K, BPF_JMP_JSET_K, BPF_RET_K = 0x20, 0x15, 0x35, 0x45, 0x06
SECCOMP_RET_KILL_PROCESS, SECCOMP_RET_ERRNO, SECCOMP_RET_ALLOW = 0x80000000, 0x00050000, 0x7FFF0000
OFFSET_NR, OFFSET_ARCH, OFFSET_ARG0 = 0, 4, 16       # struct seccomp_data, little-endian low words

# What learner code may not call: with EPERM, except the ones below.
REFUSED = ("socket", "ptrace", "process_vm_readv", "process_vm_writev", "pidfd_getfd", "process_madvise", "kcmp",
           "unshare", "setns", "mount", "umount2", "pivot_root", "chroot", "open_tree", "move_mount", "fsopen",
           "fsconfig", "fsmount", "fspick", "mount_setattr", "add_key", "request_key", "keyctl", "bpf",
           "perf_event_open", "userfaultfd", "io_uring_setup", "io_uring_enter", "io_uring_register",
           "init_module", "finit_module", "delete_module", "kexec_load", "kexec_file_load", "reboot", "swapon",
           "swapoff", "acct", "quotactl", "quotactl_fd", "syslog", "vhangup", "settimeofday", "clock_settime",
           "adjtimex", "iopl", "ioperm", "lookup_dcookie", "fanotify_init", "name_to_handle_at",
           "open_by_handle_at", "personality", "landlock_create_ruleset", "landlock_add_rule",
           "landlock_restrict_self")
ERRNOS = {"socket": errno.EACCES, "clone3": errno.ENOSYS}   # ENOSYS: the C library falls back to clone


def _insn(code: int, jt: int, jf: int, k: int) -> bytes:
    return struct.pack("HBBI", code, jt, jf, k & 0xFFFFFFFF)


def seccomp_program(arch: str, refused: tuple[str, ...] = REFUSED) -> bytes:
    """The filter: the wrong architecture is killed, ``refused`` calls fail, clone may not make namespaces.

    ``clone3`` answers ENOSYS (its flags live in memory a filter cannot read), so the C
    library falls back to ``clone``, whose flags are checked.
    """
    numbers = SYSCALLS[arch]
    deny = [(numbers[name], ERRNOS.get(name, errno.EPERM)) for name in refused if name in numbers]
    deny.append((numbers["clone3"], ERRNOS["clone3"]))
    body: list[bytes] = []
    for number, code in deny:          # if nr == number: return ERRNO(code)
        body += [_insn(BPF_JMP_JEQ_K, 0, 1, number), _insn(BPF_RET_K, 0, 0, SECCOMP_RET_ERRNO | code)]
    body += [_insn(BPF_JMP_JEQ_K, 0, 3, numbers["clone"]),                 # clone with a namespace flag
             _insn(BPF_LD_W_ABS, 0, 0, OFFSET_ARG0),
             _insn(BPF_JMP_JSET_K, 0, 1, NAMESPACE_FLAGS),
             _insn(BPF_RET_K, 0, 0, SECCOMP_RET_ERRNO | errno.EPERM),
             _insn(BPF_RET_K, 0, 0, SECCOMP_RET_ALLOW)]
    head = [_insn(BPF_LD_W_ABS, 0, 0, OFFSET_ARCH),
            _insn(BPF_JMP_JEQ_K, 1, 0, AUDIT_ARCH[arch]),
            _insn(BPF_RET_K, 0, 0, SECCOMP_RET_KILL_PROCESS),
            _insn(BPF_LD_W_ABS, 0, 0, OFFSET_NR)]
    if arch == "x86_64":               # x32 system calls reach the same kernel code under other numbers
        head += [_insn(BPF_JMP_JGE_K, 0, 1, X32_SYSCALL_BIT), _insn(BPF_RET_K, 0, 0, SECCOMP_RET_ERRNO | errno.EPERM)]
    return b"".join(head + body)


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def seccomp_install(refused: tuple[str, ...] = REFUSED) -> int:
    """Install the filter on this process for good; return the number of refused calls."""
    arch = machine()
    if arch is None:
        raise OSError(errno.ENOSYS, f"no seccomp filter for {platform.machine()}")
    program = seccomp_program(arch, refused)
    buffer = ctypes.create_string_buffer(program, len(program))
    fprog = _SockFprog(len(program) // 8, ctypes.cast(buffer, ctypes.c_void_p))
    _check(libc().prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.addressof(fprog), 0, 0), "seccomp")
    return len(refused)


# --------------------------------------------------------------------------- processes

def user_processes(uid: int) -> list[int]:
    """Every live process whose real or effective user id is ``uid`` (from /proc; zombies are dead already)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/status") as f:
                fields = dict(line.split(":", 1) for line in f if ":" in line)
        except (OSError, ValueError):
            continue
        if not fields.get("State", "").strip().startswith(("Z", "X")) and str(uid) in fields.get("Uid", "").split()[:2]:
            found.append(int(entry))
    return found


def kill_all(pids) -> None:
    """SIGKILL each process, ignoring those already gone."""
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


# --------------------------------------------------------------------------- capabilities

CAPS = {"chown": 0, "dac_override": 1, "dac_read_search": 2, "fowner": 3, "kill": 5, "setgid": 6, "setuid": 7,
        "sys_chroot": 18, "sys_ptrace": 19, "sys_admin": 21, "sys_resource": 24}


def effective_capabilities() -> set[str]:
    """The capabilities this process holds (of those in ``CAPS``), read from /proc/self/status."""
    try:
        with open("/proc/self/status") as f:
            line = next(line for line in f if line.startswith("CapEff:"))
    except (OSError, StopIteration):
        return set()
    mask = int(line.split()[1], 16)
    return {name for name, bit in CAPS.items() if mask >> bit & 1}


def seccomp_mode() -> int:
    """0: no filter on this process, 2: a filter is installed (e.g. a container's)."""
    try:
        with open("/proc/self/status") as f:
            return int(next(line for line in f if line.startswith("Seccomp:")).split()[1])
    except (OSError, StopIteration, ValueError):
        return 0
