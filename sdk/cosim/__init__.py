"""The simulator side: components that run inside the simulator process (cocotb on Verilator), used
by the engines' job servers and by the testbenches in tb/. Only this sub-package of sdk imports
cocotb; ``import sdk`` loads none of it.

    sim_server    the job server of the Verilator engines: a cocotb test that plays host operations
    edge          the edge harness: link drivers, link monitors and the cycle-by-cycle stepping loop
    autopilot     the edge autopilot, Python side: the harness's cycles handed to the native mesh's C++
    board_server  the simulated board of the "fpga-sim" engine: the board core's UART bit by bit,
                  as a byte stream on a socket
    lifeline      a server's watch on its host process: the simulator stops when the host dies
"""
