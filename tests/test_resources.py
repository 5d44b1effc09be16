"""Registering integrations through the SDK's own code, with Pulumi's mocks standing in
for the engine: large programs register, and the provider is serialised once."""

from __future__ import annotations

import pickle
from collections.abc import Iterator
from typing import Any

import pulumi
import pytest
from pulumi.dynamic import CreateResult, Resource, ResourceProvider

from pulumi_oncall import Integration
from pulumi_oncall._provider import PROVIDER_KEY

MANY = 1100  # past the ~960 at which the SDK's own path runs out of stack


class Mocks(pulumi.runtime.Mocks):
    def __init__(self) -> None:
        self.registered: list[dict[str, Any]] = []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        self.registered.append(args.inputs)
        return f"{args.name}-id", args.inputs

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict[str, Any]:
        return {}


@pytest.fixture
def mocks() -> Iterator[Mocks]:
    mocks = Mocks()
    pulumi.runtime.set_mocks(mocks, project="p", stack="s", preview=False)
    # The SDK patches the pickler for good; leave it as it was for later tests.
    saved = pickle._Pickler._batch_setitems, pickle._Pickler.save_dict  # type: ignore[attr-defined]
    yield mocks
    pickle._Pickler._batch_setitems, pickle._Pickler.save_dict = saved  # type: ignore[attr-defined]


def test_more_than_a_thousand_integrations_register(mocks: Mocks) -> None:
    ids: list[str] = []

    @pulumi.runtime.test
    def program() -> pulumi.Output[Any]:
        integrations = [Integration(f"i{n}", type="webhook") for n in range(MANY)]
        return pulumi.Output.all(*[i.id for i in integrations]).apply(ids.extend)

    program()
    assert ids == [f"i{n}-id" for n in range(MANY)]
    providers = {inputs[PROVIDER_KEY] for inputs in mocks.registered}
    assert len(mocks.registered) == MANY and len(providers) == 1  # serialised once


class _Noop(ResourceProvider):
    def __getstate__(self) -> dict[str, Any]:
        return {}  # as a stateless provider pickles

    def create(self, props: dict[str, Any]) -> CreateResult:
        return CreateResult("x", {})


class _Plain(Resource):
    pass


def test_the_sdks_own_path_cannot(mocks: Mocks) -> None:
    """The control: what `Integration` avoids by serialising its provider once."""
    with pytest.raises(RecursionError):
        for n in range(MANY):
            _Plain(_Noop(), f"plain{n}", {})
