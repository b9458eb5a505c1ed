"""The Tessera processing element (PE), as a package of components (docs/pe.md "Core").

Role
----
``PE(profile)`` executes docs/isa.md programs: a multi-cycle scalar core runs one task at a
time, a priority scheduler starts the lowest runnable task, and one pipelined vector engine
executes the running task's synchronous op and the micro-threads' asynchronous ops through
FPLane instances (hdl/fpu.py) and the banked SRAM (hdl/sram.py). It is emitted as one Verilog
module tree under ``tessera_pe``.

Files
-----
top.py       PE: memories and components, wired; the debug read port
ramp.py      RampInput (per-color input queues), RampOutput (output wavelet register)
ports.py     SramArbiter: the SRAM's rd0/rd1/wr among load bus, core, vector engine, debug port
loadbus.py   LoadDecoder: load-bus regions, CTRL (RUN/CLEAR/ZERO), the zeroing sweep
sched.py     Scheduler: task table, bindings, runnable tasks, the next task to start
regfile.py   RegisterFile: GPRs and DSRs
core.py      ScalarCore: the IDLE/FETCH/EXEC/LOAD/VWAIT/HALT FSM
vector.py    VectorEngine: wires vcontexts.py (contexts, selection), vissue.py (I stage) and
             vpipe.py (C/F/D stages, FPLanes, write-back)
status.py    StatusCounters: sticky status word, halt, counters; StatusSignature
common.py    shared layouts, signatures and helpers

Interface: ``PE(profile)`` and ``StatusSignature`` (the ``status`` port), see top.py.
"""

from .status import StatusSignature
from .top import PE

__all__ = ["PE", "StatusSignature"]
