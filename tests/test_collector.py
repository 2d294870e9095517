"""Full garbage collections wait for the keyboard to rest (msp_tui.collector)."""

from __future__ import annotations

import gc

import pytest

from msp_tui import collector as module
from msp_tui.collector import Collector


@pytest.fixture
def collector():
    before = gc.get_threshold()
    taken = Collector()
    yield taken
    taken.give_back()
    assert gc.get_threshold() == before


def test_it_takes_full_collections_over_and_gives_them_back(collector: Collector) -> None:
    young, middle, full = gc.get_threshold()
    collector.take_over()
    assert gc.get_threshold()[:2] == (young, middle)
    assert gc.get_threshold()[2] > 1_000_000  # CPython no longer starts one by itself
    collector.give_back()
    assert gc.get_threshold() == (young, middle, full)


def test_a_full_collection_waits_for_the_keyboard_to_rest(collector: Collector, monkeypatch):
    now = [1_000.0]
    monkeypatch.setattr(module.time, "monotonic", lambda: now[0])
    collector.take_over()
    collector.input_at = collector.full_at = now[0]
    now[0] += module.LOOK_EVERY_S + 1
    collector.input_seen()  # typing: not yet
    assert not collector.tick()
    now[0] += module.FULL_AFTER_IDLE_S  # the keyboard rested
    assert collector.tick() and collector.full_collections == 1
    assert not collector.tick()  # not again until LOOK_EVERY_S has passed
    # However busy the keyboard, one runs at least every AT_LEAST_EVERY_S.
    now[0] += module.AT_LEAST_EVERY_S
    collector.input_seen()
    assert collector.tick() and collector.full_collections == 2


def test_nothing_runs_before_it_takes_over(collector: Collector, monkeypatch) -> None:
    now = [1_000.0]
    monkeypatch.setattr(module.time, "monotonic", lambda: now[0])
    collector.input_at = collector.full_at = now[0]
    now[0] += module.AT_LEAST_EVERY_S * 2
    assert not collector.tick()
