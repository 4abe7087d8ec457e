"""Process hardening: no core dumps, not attachable by ordinary ptrace.

An unsealed process holds the root key in memory; a core dump would write it to disk.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import resource
import sys

_PR_GET_DUMPABLE = 3
_PR_SET_DUMPABLE = 4


def disable_core_dumps() -> bool:
    """Best effort; returns True if the process is now non-dumpable (Linux)."""
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if not sys.platform.startswith("linux"):
        return False
    libc_name = ctypes.util.find_library("c")
    if libc_name is None:
        return False
    try:
        libc = ctypes.CDLL(libc_name, use_errno=True)
        return int(libc.prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0)) == 0
    except OSError:
        return False


def is_dumpable() -> bool:
    """True if a crash could write this process's memory to a core file."""
    soft, _ = resource.getrlimit(resource.RLIMIT_CORE)
    if soft == 0:
        return False
    libc_name = ctypes.util.find_library("c") if sys.platform.startswith("linux") else None
    if libc_name is None:
        return True
    return int(ctypes.CDLL(libc_name).prctl(_PR_GET_DUMPABLE, 0, 0, 0, 0)) != 0
