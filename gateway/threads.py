"""A background thread of the gateway process, started on first use and again if it died."""

import threading
from collections.abc import Callable


class OnDemandThread:
    """One daemon thread running `target`; `ensure()` is cheap once it runs."""

    def __init__(self, target: Callable[[], None], name: str) -> None:
        self._target = target
        self._name = name
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def ensure(self) -> None:
        """Start the thread unless it is running."""
        if self._thread is None or not self._thread.is_alive():
            with self._lock:
                if self._thread is None or not self._thread.is_alive():
                    self._thread = threading.Thread(
                        target=self._target, name=self._name, daemon=True
                    )
                    self._thread.start()

    def is_alive(self) -> bool:
        """Whether the thread runs now."""
        return self._thread is not None and self._thread.is_alive()

    def join(self, timeout: float) -> None:
        """Wait up to `timeout` seconds for the thread to end."""
        if self._thread is not None:
            self._thread.join(timeout=timeout)
