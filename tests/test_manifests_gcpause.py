"""Pausing the cyclic garbage collector."""

import gc

import pytest

from reconciler.manifests.gcpause import cyclic_gc_paused


def test_collector_is_off_inside_and_back_on_after_an_error() -> None:
    """The collector is paused in the block and restored even when the block raises."""
    seen: list[bool] = []

    def paused_then_fail() -> None:
        with cyclic_gc_paused():
            seen.append(gc.isenabled())
            raise RuntimeError("boom")

    assert gc.isenabled()
    with pytest.raises(RuntimeError):
        paused_then_fail()
    assert seen == [False]
    assert gc.isenabled()


def test_nested_pauses_restore_only_at_the_outermost() -> None:
    """An inner pause does not turn the collector back on inside an outer one."""
    with cyclic_gc_paused():
        with cyclic_gc_paused():
            pass
        assert not gc.isenabled()
    assert gc.isenabled()
