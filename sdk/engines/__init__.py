"""The engines, host side: what a Runtime drives a mesh through. Nothing here runs inside a
simulator or builds one (sdk/cosim and sdk/builds do), and nothing imports cocotb.

    base             Engine, the interface every engine implements (the mesh seen from its edge
                     links), and Until, the stop conditions of a run
    sim              SimEngine: a Verilator build (native, hierarchical, flat) in a simulator
                     process, driven over a socket
    golden           GoldenEngine: the golden PE-mesh model behind the engine interface
    bridge           BridgeClient and BridgeEngine: a board's mesh behind the UART host bridge (a
                     serial port, or the simulated board)
    bridge_protocol  the bridge's frames, encoded and decoded (transport-independent)
    wire             the socket message codec between a host engine and its simulator
"""
