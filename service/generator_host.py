"""A generator in a process of its own, so that a model crash costs one answer, not the service.

llama.cpp and torch run native code: a segfault there (a llama.cpp build for another CPU, an
out-of-bounds kernel) kills the process it happens in, which no `except` can catch. The service
therefore runs an in-process generator (`local`, `llamacpp`, a plugin's) in a child process,
`python -m service.generator_host`, and calls it over two pipes with `multiprocessing.connection`
(pickled calls and results). When the child
dies while answering, the call raises ModelError `generator_stopped` naming the generator and the
signal; the next call starts a fresh child. A child that died between requests is replaced
without failing anyone. The child exits when the service's end of the pipe closes, so a killed
service leaves no generator behind.

`openai` (a server elsewhere already) and `fake` (no model) stay in the service's process, as
does a generator registered in process under a factory no other process can import.
"""

from __future__ import annotations

import logging
import os
import pickle
import signal
import subprocess
import sys
import threading
from multiprocessing.connection import Connection
from typing import Any

from ragkit.errors import ModelError
from ragkit.settings import Settings

log = logging.getLogger("ragkit.service")

IN_PROCESS = frozenset({"openai", "fake"})  # a server elsewhere, or no model: nothing here to crash
START_TIMEOUT_S = 120.0  # the child's imports and the generator's construction (models load on first use)
_METHODS = ("generate", "score", "count_tokens", "count_message_tokens", "unload_adapters")


_PARENT_ENDS: set[int] = set()  # the service's ends of the pipes: a process forked later (a parser) must not hold them


def _close_parent_ends() -> None:
    """In a forked child: close the service's pipe ends, or a generator child would not see its service die."""
    for fd in list(_PARENT_ENDS):
        try:
            os.close(fd)
        except OSError:
            pass
    _PARENT_ENDS.clear()


os.register_at_fork(after_in_child=_close_parent_ends)


def host_target(name: str) -> str | None:
    """The import path a child process builds generator `name` from, or None to keep it in this process."""
    from ragkit.plugins import GENERATORS

    return None if name in IN_PROCESS else GENERATORS.target(name)


def _exit_reason(code: int | None) -> str:
    if code is None:
        return "its process stopped answering"
    if code < 0:
        try:
            return f"its process was killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"its process was killed by signal {-code}"
    return f"its process exited with status {code}"


class GeneratorProcess:
    """The Generator contract, served by a child process; one call at a time (the generators
    behind it take one at a time too)."""

    def __init__(self, target: str, settings: Settings, description: str):
        self.target = target
        self.settings = settings
        self.description = description
        self._lock = threading.Lock()
        self._proc: subprocess.Popen | None = None
        self._send_conn = self._conn = None
        self._info: dict[str, Any] = {}
        self._start()

    # -- the child -----------------------------------------------------------------------------

    def _start(self) -> None:
        from_parent, to_child = os.pipe()  # (read end, write end)
        from_child, to_parent = os.pipe()
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
        try:
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "service.generator_host", str(from_parent), str(to_parent)],
                pass_fds=(from_parent, to_parent),
                stdin=subprocess.DEVNULL,
                env=env,
                start_new_session=True,  # a Ctrl-C at the service's terminal is the service's to handle
            )
        except OSError as e:
            for fd in (to_child, from_parent, from_child, to_parent):
                os.close(fd)
            raise ModelError(f"the generator ({self.description}) could not be started: {e}", code="generator_stopped") from e
        os.close(from_parent)
        os.close(to_parent)
        _PARENT_ENDS.update((to_child, from_child))
        self._send_conn = Connection(to_child, readable=False)
        self._conn = Connection(from_child, writable=False)
        self._send_conn.send((self.target, self.settings))
        if not self._conn.poll(START_TIMEOUT_S):
            self._kill()
            raise ModelError(f"the generator ({self.description}) did not start within {START_TIMEOUT_S:.0f} s", code="generator_stopped")
        status, value = self._receive("starting")
        if status == "err":
            self._hang_up()
            raise value
        self._info = value
        log.info("generator %s runs in process %d", self.description, self._proc.pid)

    def _receive(self, doing: str):
        try:
            return self._conn.recv()
        except (EOFError, OSError) as e:
            code = self._wait()
            self._hang_up()
            message = f"the generator ({self.description}) stopped while {doing}: {_exit_reason(code)}; it is started again for the next request"
            log.error("%s", message)
            raise ModelError(message, code="generator_stopped") from e

    def _wait(self) -> int | None:
        try:
            return self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._kill()
            return None

    def _kill(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()

    def _hang_up(self) -> None:
        """Close both ends; a living child exits on the closed pipe."""
        for conn in (self._send_conn, self._conn):
            if conn is not None:
                _PARENT_ENDS.discard(conn.fileno())
                conn.close()
        self._send_conn = self._conn = None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def _call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        with self._lock:
            if self._conn is None or self._proc.poll() is not None:
                if self._proc is not None and self._proc.poll() is not None:
                    log.error("generator %s had stopped (%s); starting it again", self.description, _exit_reason(self._proc.returncode))
                self._hang_up()
                self._start()
            try:
                self._send_conn.send((method, args, kwargs))
            except OSError:
                pass  # a child that just died: the receive below says how
            status, value = self._receive("answering" if method in ("generate", "score") else f"running {method}")
        if status == "err":
            raise value
        return value

    def close(self) -> None:
        with self._lock:
            self._hang_up()
            if self._proc is not None:
                try:
                    self._proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    self._kill()

    # -- the Generator contract ------------------------------------------------------------------

    @property
    def model_id(self) -> str:
        return self._info["model_id"]

    @property
    def remote(self) -> bool:
        return self._info["remote"]

    @property
    def context_window(self) -> int:
        return self._info["context_window"]

    def count_tokens(self, text: str) -> int:
        return self._call("count_tokens", text)

    def count_message_tokens(self, messages) -> int:
        return self._call("count_message_tokens", messages)

    def generate(self, messages, max_tokens: int = 64, temperature: float = 0.0, stop=(), adapter=None, adapter_path=None):
        return self._call("generate", messages, max_tokens=max_tokens, temperature=temperature, stop=stop, adapter=adapter, adapter_path=adapter_path)

    def unload_adapters(self) -> None:
        if self._info.get("unload_adapters"):
            self._call("unload_adapters")

    def __getattr__(self, name: str) -> Any:
        if name == "score" and self.__dict__.get("_info", {}).get("score"):
            return lambda messages, continuations, adapter=None, adapter_path=None: self._call(
                "score", messages, continuations, adapter=adapter, adapter_path=adapter_path
            )
        raise AttributeError(name)


# -- the child's side ------------------------------------------------------------------------------


def _portable(error: BaseException) -> BaseException:
    """The error itself when it survives pickling, else a RuntimeError saying what it was."""
    try:
        pickle.loads(pickle.dumps(error))
        return error
    except Exception:
        return RuntimeError(f"{type(error).__name__}: {error}")


def serve(receive_fd: int, send_fd: int) -> None:
    """Build the generator the service names, then answer its calls until it hangs up."""
    from ragkit.plugins import _load

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    os.dup2(2, 1)  # whatever a library prints goes to the service's stderr, never into the pipe
    inbox = Connection(receive_fd, writable=False)
    conn = Connection(send_fd, readable=False)
    target, settings = inbox.recv()
    try:
        generator = _load(target)(settings)
        conn.send(("ok", {
            "model_id": generator.model_id,
            "remote": bool(generator.remote),
            "context_window": int(generator.context_window),
            **{m: callable(getattr(generator, m, None)) for m in _METHODS},
        }))
    except Exception as e:
        conn.send(("err", _portable(e)))
        return
    while True:
        try:
            method, args, kwargs = inbox.recv()
        except (EOFError, OSError):
            return  # the service closed the socket or died
        if method not in _METHODS:
            conn.send(("err", RuntimeError(f"unknown generator call {method!r}")))
            continue
        try:
            conn.send(("ok", getattr(generator, method)(*args, **kwargs)))
        except Exception as e:
            conn.send(("err", _portable(e)))


if __name__ == "__main__":
    serve(int(sys.argv[1]), int(sys.argv[2]))
    sys.exit(0)
