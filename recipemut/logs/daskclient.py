"""The Dask client of the partitioned engine (:mod:`recipemut.logs.distributed`): of the scheduler a
user names (``--scheduler``), or of an in-process ``LocalCluster``.

A scheduler address is checked before distributed's ``Client`` is made (:func:`probe_scheduler`):
a refused TCP connection fails at once, and the scheduler's handshake must come within the connect
timeout. Anything that goes wrong while connecting (an address that is not one, a scheme with no
configuration, a server that answers garbage or nothing) is one
:class:`~recipemut.errors.LogError` naming the address.

The Dask packages are imported only here and in :mod:`recipemut.logs.distributed`, and only when
the engine is ``dask``.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import Any

from recipemut.errors import LogError


@contextlib.contextmanager
def dask_client(scheduler: str | None, timeout_s: float) -> Iterator[Any]:
    """A client of the scheduler at ``scheduler``, or of an in-process LocalCluster (none given)."""
    try:
        import dask
        from distributed import Client, LocalCluster
    except ImportError as e:
        raise LogError(
            f"--engine dask needs the dask extra (pip install 'recipemut[dask]'): {e}", code="no-dask"
        ) from None
    timeout = f"{timeout_s:g}s"
    quiet = logging.getLogger("distributed")  # its start-up and shut-down chatter is not the user's business
    level = quiet.level
    quiet.setLevel(logging.WARNING)
    try:
        with dask.config.set({"distributed.comm.timeouts.connect": timeout}):
            yield from _connected(scheduler, timeout_s, Client, LocalCluster)
    finally:
        quiet.setLevel(level)


def _connected(scheduler: str | None, timeout_s: float, Client: Any, LocalCluster: Any) -> Iterator[Any]:
    if scheduler is None:  # the workers' own "Compute Failed" logs would repeat an error the client says in one line
        cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0",
                               silence_logs=logging.CRITICAL)  # fmt: skip
        with cluster, Client(cluster) as client:
            yield client
        return
    timeout = f"{timeout_s:g}s"
    try:
        probe_scheduler(scheduler, timeout_s)
        client = Client(scheduler, timeout=timeout)
    except Exception as e:  # a garbled answer raises anything (struct.error, MemoryError, TypeError)
        first = str(e).splitlines()[0][:200] if str(e) else "no answer"
        raise LogError(
            f"cannot reach the Dask scheduler at {scheduler} within {timeout} ({type(e).__name__}: {first})",
            code="no-scheduler",
        ) from None
    with client:
        yield client


def probe_scheduler(address: str, timeout_s: float) -> None:
    """Connect to the scheduler at ``address`` and wait for its handshake, all within ``timeout_s``
    seconds; raise what went wrong. distributed's ``Client`` waits for the handshake without a bound
    (a server that accepts and says nothing hung it for ever) and retries a refused connection until
    its timeout; a plain TCP connection is refused at once."""
    import asyncio
    import socket

    from distributed.comm import connect
    from distributed.comm.addressing import parse_address, parse_host_port

    scheme, location = parse_address(address)
    if scheme == "tcp":
        with socket.create_connection(parse_host_port(location), timeout=timeout_s):
            pass

    async def handshake() -> None:
        comm = await asyncio.wait_for(connect(address, timeout=timeout_s), timeout_s)
        await comm.close()

    asyncio.run(handshake())


__all__ = ["dask_client", "probe_scheduler"]
