"""The golden routing model and the route validator, against expectations written from the spec."""

import pytest

from golden.route_patterns import standard_patterns
from golden.routing import ColorRoute, MeshRoutes, Port, RouteError, mask_of, simulate, zero_load_latency

R, E, W, N, S = Port.RAMP, Port.E, Port.W, Port.N, Port.S


def line(cols=3, colors=4):
    """1 x cols line; color 0 broadcast eastward from (0,0) to every RAMP."""
    m = MeshRoutes(1, cols, colors, open_edges="")
    m.set((0, 0), 0, ColorRoute.simple([R], [E]))
    for c in range(1, cols - 1):
        m.set((0, c), 0, ColorRoute.simple([W], [E, R]))
    m.set((0, cols - 1), 0, ColorRoute.simple([W], [R]))
    return m


def test_line_broadcast_delivers_in_order_everywhere():
    m = line()
    m.validate()
    res = simulate(m, {((0, 0), R): [(0, 10, 0), (0, 11, 0), (0, 12, 0)]})
    for c in (1, 2):
        assert [d.payload for d in res.outputs[((0, c), R)]] == [10, 11, 12]
    assert ((0, 0), R) not in res.outputs
    assert not res.drops and not res.stuck


def test_zero_load_latency_is_routers_traversed():
    m = line(cols=4)
    lat = zero_load_latency(m, (0, 0), R, 0)
    assert lat == {((0, 1), R): 2, ((0, 2), R): 3, ((0, 3), R): 4}


@pytest.mark.parametrize("build,needle", [
    (lambda m: m.set((0, 0), 7, ColorRoute.simple([R], [E])), "color out of range"),
    (lambda m: m.set((0, 0), 0, ColorRoute.simple([R], [W])), "port W does not exist"),
    (lambda m: m.set((0, 1), 2, ColorRoute.simple([N], [R])), "port N does not exist"),
    (lambda m: m.set((0, 2), 2, ColorRoute.simple([E], [R])), "port E does not exist"),
    (lambda m: m.set((0, 1), 0, ColorRoute.simple([R], [E])), "does not accept color 0 from W"),
    (lambda m: m.set((0, 1), 0, ColorRoute(((mask_of(W), 0),))), "empty TX set"),
    (lambda m: m.set((0, 0), 0, ColorRoute(((1, 2),) * 5)), "5 positions"),
])
def test_validation_names_pe_color_port(build, needle):
    m = line(colors=4)
    build(m)
    with pytest.raises(RouteError, match=needle) as ei:
        m.validate()
    assert "PE (0," in str(ei.value)


def test_tx_rx_mismatch_names_sender():
    m = MeshRoutes(2, 2, 4, open_edges="")
    m.set((0, 0), 1, ColorRoute.simple([R], [S]))
    m.set((1, 0), 1, ColorRoute.simple([W], [R]))  # accepts from W, not N
    with pytest.raises(RouteError, match=r"PE \(0, 0\) color 1 position 0: port S sends to PE \(1, 0\)"):
        m.validate()


def test_cycle_is_rejected():
    m = MeshRoutes(1, 2, 2, open_edges="")
    m.set((0, 0), 0, ColorRoute.simple([E, R], [E]))
    m.set((0, 1), 0, ColorRoute.simple([W], [W]))
    with pytest.raises(RouteError, match="cycle"):
        m.validate()


def test_bad_mesh_and_injection():
    with pytest.raises(RouteError):
        MeshRoutes(0, 3, 4)
    with pytest.raises(RouteError):
        MeshRoutes(2, 2, 33)
    m = line()
    with pytest.raises(RouteError, match="not a RAMP port or an open mesh edge"):
        simulate(m, {((0, 1), N): [(0, 1, 0)]})


def test_rx_violation_and_bad_color_are_dropped_and_counted():
    m = line(colors=4)
    res = simulate(m, {((0, 0), R): [(1, 5, 0), (0, 6, 0), (9, 7, 0)]})
    assert res.drops[(0, 0)] == 2
    assert res.drop_reasons[((0, 0), "rx_violation")] == 1  # color 1 has no route
    assert res.drop_reasons[((0, 0), "bad_color")] == 1  # color 9 >= 4 colors
    assert [d.payload for d in res.outputs[((0, 2), R)]] == [6]


def test_switch_advance_saturate_ring_reset_and_wait():
    m = MeshRoutes(1, 1, 4)
    e, s, w, n = (mask_of(p) for p in "ESWN")
    r = mask_of(R)
    m.set((0, 0), 0, ColorRoute(((r, e), (r, s))))  # two positions, no ring: saturates at S
    m.set((0, 0), 1, ColorRoute(((r, e), (r, s)), ring=True))
    m.set((0, 0), 2, ColorRoute(((w, e), (n, s))))  # N waits for position 1
    m.validate()
    adv, rst = 1, 2
    stream = [(0, 100, 0), (0, 104 | adv, 1), (0, 108, 0), (0, 112 | adv, 1), (0, 116, 0), (0, 120 | rst, 1),
              (0, 124, 0), (1, 200 | adv, 1), (1, 204 | adv, 1), (1, 208, 0)]
    res = simulate(m, {((0, 0), R): stream, ((0, 0), N): [(2, 300, 0)], ((0, 0), W): [(2, 304 | adv, 1)]})
    out = {p: [d.payload for d in res.outputs[((0, 0), p)]] for p in (E, S)}
    assert out[E] == [100, 104 | adv, 124, 200 | adv, 208, 304 | adv]
    assert out[S] == [108, 112 | adv, 116, 120 | rst, 204 | adv, 300]
    assert res.final_positions[((0, 0), 0)] == 0 and res.final_positions[((0, 0), 1)] == 0
    assert not res.stuck


def test_waiting_forever_is_reported_as_stuck():
    m = MeshRoutes(1, 1, 2)
    m.set((0, 0), 0, ColorRoute(((mask_of(W), mask_of(E)), (mask_of(N), mask_of(S)))))
    res = simulate(m, {((0, 0), N): [(0, 1, 0)]})
    assert res.stuck == [((0, 0), N, 0, 1)]


@pytest.mark.parametrize("rows,cols", [(1, 1), (1, 5), (5, 1), (4, 4), (3, 7)])
def test_standard_patterns_validate_and_reach_every_ramp(rows, cols):
    m, sources = standard_patterns(rows, cols, 8)
    m.validate()
    inj = {}
    for k, (link, color) in enumerate(sources):
        inj.setdefault(link, []).append((color, k << 2, 0))
    res = simulate(m, inj)
    assert not res.drops and not res.stuck
    # the row broadcast (color 0) reaches every RAMP except the sources in column 0
    got = {ex[0] for ex, ds in res.outputs.items() if ex[1] == R and any(d.color == 0 for d in ds)}
    assert got == {(r, c) for r in range(rows) for c in range(1, cols)}


def test_zero_load_latency_counts_die_boundary_stages():
    """Each hop between dies adds the boundary's stages (docs/wafer.md); hops inside a die do not."""
    R = Port.RAMP
    m = MeshRoutes(1, 6, 2)
    m.set((0, 0), 0, ColorRoute.simple([R], ["E"]))
    for c in range(1, 5):
        m.set((0, c), 0, ColorRoute.simple(["W"], ["E"]))
    m.set((0, 5), 0, ColorRoute.simple(["W"], [R]))
    plain = zero_load_latency(m, (0, 0), R, 0)[((0, 5), R)]
    assert plain == 6
    assert zero_load_latency(m, (0, 0), R, 0, die=(1, 2), stages=1)[((0, 5), R)] == plain + 2
    assert zero_load_latency(m, (0, 0), R, 0, die=(1, 3), stages=3)[((0, 5), R)] == plain + 3
    assert zero_load_latency(m, (0, 0), R, 0, die=(1, 6), stages=3)[((0, 5), R)] == plain
