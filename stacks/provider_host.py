"""Where Pulumi's dynamic-provider process starts for grid's stacks: an engine watchdog, then pulumi.dynamic.

Pulumi starts provider plugins in process groups of their own and stops them only when it exits
normally. A provider whose engine was killed would wait forever — and one in the middle of a podman
call would finish it after the run is gone, racing the next run. So this process ends its own
process group (the provider and its podman calls) as soon as the engine's address stops accepting
connections.

Pulumi stops a provider it is done with by SIGINT to the provider's process group, and kills it 5 s later if it
is still there. Python turns SIGINT into KeyboardInterrupt in the main thread only, and the kernel may hand the
signal to one of gRPC's threads: then the main thread, blocked in pulumi.dynamic's endless wait, never hears of
it, and the operation waits out the 5 s (1 `grid drift` in ~30 here). So SIGINT keeps its default action in
this process: it ends at once, whichever thread the signal lands on (Pulumi has no request left for it then).

`pulumi-resource-pulumi-python` runs `$PULUMI_PYTHON_CMD -u -m pulumi.dynamic <engine address>`;
grid.drivers.pulumi points PULUMI_PYTHON_CMD at a launcher running
`python -u -m grid.stacks.provider_host -u -m pulumi.dynamic <engine address>`. Standard library only, and
grid.startup (itself standard library only).
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import os
import runpy
import signal
import socket
import sys
import threading

from grid.startup import importing, keep_dataclass_code

WATCH_INTERVAL_SECONDS = 0.5
# Read by grid.stacks.local_reads: this process lives for one Pulumi operation, so its reads may share a
# listing ("0" in grid's environment turns that off, to compare).
BATCH_READS_ENV = "GRID_PROVIDER_BATCH_READS"


def engine_address(args: list[str]) -> tuple[str, int] | None:
    """The engine's gRPC address Pulumi passes a provider as its first argument ("127.0.0.1:40123")."""
    if not args:
        return None
    host, _, port = args[0].rpartition(":")
    return (host, int(port)) if host and port.isdigit() else None


def engine_alive(address: tuple[str, int]) -> bool:
    try:
        with socket.create_connection(address, timeout=2.0):
            return True
    except ConnectionRefusedError:
        return False
    except OSError:
        return True  # slow or unusual: not proof that the engine is gone


def watch(address: tuple[str, int], interval: float = WATCH_INTERVAL_SECONDS) -> None:
    """Block until the engine is gone, then SIGKILL this process group."""
    while engine_alive(address):
        threading.Event().wait(interval)
    os.killpg(os.getpgrp(), signal.SIGKILL)


def split(argv: list[str]) -> tuple[str, list[str]]:
    """(module, its arguments) from interpreter-style arguments: `-u -m pulumi.dynamic ADDR` → ("pulumi.dynamic",
    ["ADDR"]). Options before `-m` (like -u) are the launcher's business."""
    if "-m" not in argv or argv.index("-m") + 1 >= len(argv):
        raise SystemExit(f"usage: provider_host [-u] -m MODULE [ARGS...] (got {argv})")
    at = argv.index("-m")
    return argv[at + 1], argv[at + 2:]


def main(argv: list[str]) -> None:
    module, args = split(argv)
    signal.signal(signal.SIGINT, signal.SIG_DFL)  # see the module's docstring
    os.environ.setdefault(BATCH_READS_ENV, "1")
    address = engine_address(args)
    if address is not None:
        threading.Thread(target=watch, args=(address,), name="grid-engine-watch", daemon=True).start()
    sys.argv = [module, *args]
    keep_dataclass_code("provider-host")
    with importing(), contextlib.suppress(ImportError):  # runpy says what is missing
        # The package whose __main__ runpy runs (pulumi.dynamic: Pulumi, gRPC, protobuf), imported as runpy would
        # first, with the cyclic GC paused (grid.startup): ~10 ms less before the provider answers.
        spec = importlib.util.find_spec(module)
        if spec is not None and spec.submodule_search_locations is not None:
            importlib.import_module(module)
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main(sys.argv[1:])
