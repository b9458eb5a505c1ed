"""The SDK's errors: one root, ``SdkError``, and a class per kind of failure below it.

    SdkError (ValueError)                  bad input, found before anything runs
    ├── LayoutError                        a layout that cannot be loaded
    ├── KernelError                        a kernel request that cannot run
    ├── AsmError                           an assembly error (with its line)
    ├── LoadError                          a write or route the mesh cannot take
    ├── EngineUnavailable (RuntimeError)   an engine, package or tool that is not installed
    └── DeviceError (RuntimeError)         a run-time error on the mesh or the board

``except SdkError`` catches every one of them. ``SdkError`` is a ``ValueError`` (it began as the
bad-input error) and the two run-time kinds are also ``RuntimeError``\\ s, so code that catches the
built-in types keeps working. Modules add subclasses of their own: ``DecodeModelError`` under
KernelError; the read-out's ``ReadoutError`` under DeviceError and KernelError; the bridge's
``BridgeTimeout`` and ``ProtocolError`` under DeviceError; the MPI engine's ``MpiMissing`` and fpga's
``MissingToolError`` under EngineUnavailable.
"""

from __future__ import annotations

__all__ = ["SdkError", "LayoutError", "KernelError", "AsmError", "LoadError", "EngineUnavailable", "DeviceError"]


class SdkError(ValueError):
    """The root of the SDK's errors; raised as itself for bad input to the runtime, found before
    anything runs."""


class LayoutError(SdkError):
    """A layout that cannot be loaded; the message names the PE, color, port, program or symbol."""


class KernelError(SdkError):
    """A kernel request that cannot run: bad shape, type or values, or a tile that does not fit."""


class AsmError(SdkError):
    """An assembly error; ``line`` is the 1-based source line (None if not tied to one)."""

    def __init__(self, message: str, line: int | None = None):
        self.line = line
        self.message = message
        super().__init__(f"line {line}: {message}" if line is not None else message)


class LoadError(SdkError):
    """Something the host was asked to load that the mesh cannot take."""


class EngineUnavailable(SdkError, RuntimeError):
    """An engine, optional package or tool that is not installed (the message says how to get it)."""


class DeviceError(SdkError, RuntimeError):
    """A run-time error on the mesh: a PE halted, a router or loader flagged an error, the mesh
    stopped making progress, or the simulator or board failed. ``faults`` lists the faulty tiles,
    ``status`` the mesh status."""

    def __init__(self, message: str, faults=(), status=None):
        self.faults = list(faults)
        self.status = status
        if self.faults:
            message += "\n  " + "\n  ".join(str(f) for f in self.faults)
        super().__init__(message)
