"""The fake gateway on its own event loop in a daemon thread, for synchronous tests."""

from __future__ import annotations

import asyncio
import contextlib
import threading

from ntrader.ibkr.fake import FakeGateway


class ThreadedGateway(FakeGateway):
    """``ThreadedGateway(...).start_in_thread()`` listens in a thread; ``stop()`` ends it."""

    _thread: threading.Thread | None = None
    _loop: asyncio.AbstractEventLoop | None = None
    _stop_requested: asyncio.Event | None = None

    def start_in_thread(self, timeout: float = 10.0) -> ThreadedGateway:
        """Run the gateway on its own event loop in a daemon thread; returns once listening."""
        ready = threading.Event()
        failure: list[BaseException] = []

        async def main() -> None:
            self._loop = asyncio.get_running_loop()
            self._stop_requested = asyncio.Event()
            try:
                await self.start()
            except BaseException as exc:
                failure.append(exc)
                ready.set()
                return
            ready.set()
            await self._stop_requested.wait()
            await self.aclose()

        self._thread = threading.Thread(
            target=lambda: asyncio.run(main()), name="fake-ib-gateway", daemon=True
        )
        self._thread.start()
        if not ready.wait(timeout):
            raise RuntimeError("the fake gateway did not start")
        if failure:
            raise failure[0]
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Stop a gateway started with ``start_in_thread``."""
        if self._thread is None or self._loop is None or self._stop_requested is None:
            return
        with contextlib.suppress(RuntimeError):  # loop already closed
            self._loop.call_soon_threadsafe(self._stop_requested.set)
        self._thread.join(timeout)
        self._thread = None
