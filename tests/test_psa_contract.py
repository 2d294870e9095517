"""The PSA contract (adapters/psa.py): every PSA adapter implements all of it, with the same
signatures, so the core can speak only the contract."""

from __future__ import annotations

import inspect

import pytest

from adapters.autotask import AutotaskAdapter
from adapters.connectwise import ConnectWiseAdapter, ConnectWiseCredentials
from adapters.errors import Secret
from adapters.halopsa import HaloAdapter
from adapters.psa import PsaAdapter, PsaWords

ADAPTERS = [ConnectWiseAdapter, AutotaskAdapter, HaloAdapter]
CONTRACT = {
    name: member for name, member in vars(PsaAdapter).items()
    if (callable(member) and not name.startswith("_")) or name in ("__aenter__", "__aexit__")
}  # fmt: skip


@pytest.mark.parametrize("adapter", ADAPTERS, ids=lambda a: a.__name__)
def test_the_adapter_keeps_the_whole_contract(adapter: type) -> None:
    assert isinstance(adapter.words, PsaWords) and adapter.vendor
    for name, member in CONTRACT.items():
        implemented = getattr(adapter, name, None)
        assert implemented is not None, f"{adapter.__name__} lacks {name}"
        assert inspect.iscoroutinefunction(implemented) == inspect.iscoroutinefunction(member)
        wanted = list(inspect.signature(member).parameters)
        assert list(inspect.signature(implemented).parameters) == wanted, name


async def test_an_adapter_made_by_the_core_is_a_psa_adapter() -> None:
    credentials = ConnectWiseCredentials(site="https://cw.example.com", company_id="acme",
                                         public_key=Secret("p"), private_key=Secret("q"),
                                         client_id="c", codebase="v4_6_release")  # fmt: skip
    async with ConnectWiseAdapter(credentials) as adapter:
        assert isinstance(adapter, PsaAdapter)
