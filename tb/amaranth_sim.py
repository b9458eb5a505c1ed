"""Helper for the quick Amaranth-simulator unit tests: run one async bench on a design."""

from amaranth.sim import Simulator


def simulate(dut, bench, clock_period=1e-6):
    """Clock ``dut`` and run ``await bench(ctx, dut)`` as its testbench until it returns."""
    sim = Simulator(dut)
    sim.add_clock(clock_period)

    async def process(ctx):
        await bench(ctx, dut)

    sim.add_testbench(process)
    sim.run()
