"""A TCP proxy that makes a local server look far away: every round trip costs `rtt` seconds.

Each chunk is held `rtt / 2` in each direction, order kept; the TCP handshake costs one round
trip too (the upstream connection opens `rtt` after the client's). Also a "black hole": a port
whose connections the kernel completes but nobody ever reads or answers.
"""

import asyncio
import contextlib
import socket
import threading
import time

HOST = "127.0.0.1"


class _Loop:
    """An asyncio loop in a daemon thread; `call(coro)` runs a coroutine there and waits for it."""

    def __init__(self):
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="bench-proxy", daemon=True)
        self.thread.start()

    def call(self, coro, timeout=10):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def stop(self):
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


class DelayProxy:
    """Listen on a free port of 127.0.0.1; forward to (HOST, upstream_port) with `rtt` seconds per round trip."""

    def __init__(self, upstream_port, rtt=0.2):
        self.upstream_port = upstream_port
        self.rtt = rtt
        self._runner = None
        self._server = None
        self._tasks = set()
        self.port = None

    def __enter__(self):
        self._runner = _Loop()
        self._server = self._runner.call(asyncio.start_server(self._handle, HOST, 0))
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def __exit__(self, *exc):
        async def close():
            self._server.close()
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)

        self._runner.call(close())
        self._runner.stop()

    async def _handle(self, client_reader, client_writer):
        task = asyncio.current_task()
        self._tasks.add(task)
        try:
            await self._relay(client_reader, client_writer)
        except asyncio.CancelledError:
            pass  # the proxy is closing
        finally:
            self._tasks.discard(task)
            client_writer.close()

    async def _relay(self, client_reader, client_writer):
        accepted = time.monotonic()
        to_server = asyncio.Queue()
        pump_in = asyncio.create_task(self._read(client_reader, to_server))
        await asyncio.sleep(self.rtt)  # SYN, SYN-ACK: the handshake's round trip
        try:
            server_reader, server_writer = await asyncio.open_connection(HOST, self.upstream_port)
        except OSError:
            pump_in.cancel()
            return
        to_client = asyncio.Queue()
        tasks = [
            pump_in,
            asyncio.create_task(self._write(to_server, server_writer, not_before=accepted + 1.5 * self.rtt)),
            asyncio.create_task(self._read(server_reader, to_client)),
            asyncio.create_task(self._write(to_client, client_writer)),
        ]
        try:
            await asyncio.gather(*tasks)
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            for task in tasks:
                task.cancel()
            server_writer.close()

    async def _read(self, reader, queue):
        """Stamp each chunk with the time it may be delivered (half a round trip later)."""
        while True:
            try:
                data = await reader.read(65536)
            except OSError:
                data = b""
            queue.put_nowait((time.monotonic() + self.rtt / 2, data))
            if not data:
                return

    @staticmethod
    async def _write(queue, writer, not_before=0.0):
        while True:
            due, data = await queue.get()
            wait = max(due, not_before) - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            if not data:
                with contextlib.suppress(OSError):
                    if writer.can_write_eof():
                        writer.write_eof()
                return
            writer.write(data)
            await writer.drain()


class BlackHole:
    """A listening socket that never accepts: connections complete (backlog) and then hear nothing."""

    def __enter__(self):
        self.sock = socket.socket()
        self.sock.bind((HOST, 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        return self

    def __exit__(self, *exc):
        self.sock.close()
