"""A small TCP proxy run in a thread, to cut a service off its PostgreSQL server and reconnect it
without touching the shared server: `stop()` closes the listener and every open connection (clients
then get "connection refused"), `start()` listens again on the same port."""

from __future__ import annotations

import asyncio
import threading


class TcpProxy:
    """Forwards 127.0.0.1:`port` to `target`; stop() cuts every connection, start() accepts again."""

    def __init__(self, target: tuple[str, int], port: int) -> None:
        self.target = target
        self.port = port
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="tcp-proxy", daemon=True)
        self.thread.start()
        self.server: asyncio.base_events.Server | None = None
        self.writers: set[asyncio.StreamWriter] = set()
        self.connections = 0
        self.frozen = asyncio.Event()  # set: a silent partition, nothing is forwarded and nothing is closed

    def _run(self, coroutine, timeout: float = 10):
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                while self.frozen.is_set():
                    await asyncio.sleep(0.05)
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    async def _handle(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        while self.frozen.is_set():  # accepted, but the server never answers
            await asyncio.sleep(0.05)
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(*self.target)
        except OSError:
            client_writer.close()
            return
        self.connections += 1
        self.writers |= {client_writer, upstream_writer}
        await asyncio.gather(self._pipe(client_reader, upstream_writer), self._pipe(upstream_reader, client_writer))
        self.writers -= {client_writer, upstream_writer}

    async def _start(self) -> None:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", self.port, reuse_address=True)

    async def _stop(self) -> None:
        if self.server is not None:
            self.server.close()
            self.server = None
        for writer in list(self.writers):
            transport = writer.transport
            transport.abort()
        self.writers.clear()

    def start(self) -> None:
        """Listen on the port (again); returns nothing."""
        self._run(self._start())

    def stop(self) -> None:
        """Close the listener and abort every open connection; returns nothing."""
        self._run(self._stop())

    def freeze(self, frozen: bool = True) -> None:
        """Start (or end) a silent partition: connections stay open but nothing passes; returns nothing."""
        self.loop.call_soon_threadsafe(self.frozen.set if frozen else self.frozen.clear)

    def close(self) -> None:
        """Stop and end the proxy's thread; returns nothing."""
        self.stop()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.loop.call_soon_threadsafe(self.frozen.clear)
        self.thread.join(timeout=5)
