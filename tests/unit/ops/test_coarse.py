"""``AsOfSecond``: a published figure is the value that held when the current second began."""

from __future__ import annotations

from ledger.ops.coarse import AsOfSecond


def test_reads_inside_a_second_give_the_value_at_its_start() -> None:
    now = [100.0]
    figure = AsOfSecond(0, clock=lambda: now[0])
    assert figure.get() == 0
    for moment, value in ((100.2, 1), (100.5, 2), (100.9, 3)):
        now[0] = moment
        figure.set(value)
        assert figure.get() == 0  # whatever the moment inside second 100, what held at 100.0
    now[0] = 101.0
    assert figure.get() == 3  # the next boundary shows everything before it
    now[0] = 101.4
    figure.set(4)
    assert figure.get() == 3
    now[0] = 101.99
    assert figure.get() == 3
    now[0] = 105.5  # seconds without a change: the latest value
    assert figure.get() == 4


def test_the_first_change_of_a_second_keeps_what_held_at_its_start() -> None:
    now = [200.7]
    figure = AsOfSecond("start", clock=lambda: now[0])
    figure.set("a")  # in second 200, after its start
    assert figure.get() == "start"
    now[0] = 201.3
    figure.set("b")  # the first change of 201: what held at 201.0 was "a"
    assert figure.get() == "a"
