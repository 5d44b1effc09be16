"""`Connection`: an OnCall declared in the program, from values the program holds.

Stack config (`oncall:url`, `oncall:connections`) reaches the provider through its
configuration, so no token is in the state. A `Connection`'s values may be outputs of
other resources or of a `StackReference`: the only way they reach the provider is
the resource's inputs, so they are stored in the state, the token always as a secret.
"""

from __future__ import annotations

import os
from typing import Any

import pulumi

__all__ = ["Connection"]


class Connection:
    """An OnCall to reach, declared in the program rather than in stack config.

    Pass it as `connection=` to `Integration` and to the lookups. Its arguments are
    Inputs: plain values, secrets, outputs of other resources or of a
    `pulumi.StackReference`. Its token is stored in the state of every integration
    that uses it, always encrypted as a secret; a connection of stack config keeps
    the token out of the state. A new token is taken by the next `pulumi up` without
    any write to OnCall; another `url` replaces the integrations.
    """

    url: pulumi.Input[str]
    """The OnCall API URL, such as `https://oncall-prod-us-central-0.grafana.net/oncall`
    (Grafana Cloud) or that of a self-hosted OnCall. Changing it to another OnCall
    replaces the integrations that use this connection.
    """
    token: pulumi.Input[str]
    """An OnCall API token, or a Grafana service-account token (`glsa_...`, which also
    needs `grafana_url`). Always stored as a secret; a new value is taken without
    replacing anything.
    """
    grafana_url: pulumi.Input[str] | None
    """The URL of the Grafana stack, such as `https://mystack.grafana.net`: required
    with a service-account token, ignored by OnCall API tokens.
    """
    ca_bundle: pulumi.Input[str] | None
    """The path of a PEM file of the CA certificates to trust instead of the bundled
    roots, for an OnCall behind a private or company CA. A relative path is taken
    from the program's directory.
    """

    def __init__(
        self,
        url: pulumi.Input[str],
        token: pulumi.Input[str],
        *,
        grafana_url: pulumi.Input[str] | None = None,
        ca_bundle: pulumi.Input[str] | None = None,
    ) -> None:
        """
        :param url: The OnCall API URL. Changing it to another OnCall replaces the
            integrations that use this connection.
        :param token: An OnCall API token or a Grafana service-account token; stored in the
            state as a secret.
        :param grafana_url: The Grafana stack's URL, for a service-account token.
        :param ca_bundle: The path of a PEM file of CA certificates to trust, for a private
            or company CA.
        """
        self.url = url
        self.token = token
        self.grafana_url = grafana_url
        # The provider runs elsewhere: a relative path is the program's.
        self.ca_bundle = os.path.abspath(ca_bundle) if isinstance(ca_bundle, str) else ca_bundle

    def __repr__(self) -> str:
        shown = self.url if isinstance(self.url, str) else "<not known yet>"
        return f"Connection(url={shown!r}, token=***)"

    def _raw(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "token": self.token,
            "grafana_url": self.grafana_url,
            "ca_bundle": self.ca_bundle,
        }

    def _values(self) -> dict[str, Any]:
        """The values as Inputs, for the provider: None left out, the token a secret."""
        values = {**self._raw(), "token": pulumi.Output.secret(self.token)}
        return {k: v for k, v in values.items() if v is not None}

    def _resolved(self) -> pulumi.Output[Connection]:
        """This connection with its values known, none of them a secret any more: for a
        lookup, whose result holds no token."""
        resolved: pulumi.Output[dict[str, Any]] = pulumi.Output.unsecret(
            pulumi.Output.all(**self._raw())
        )
        return resolved.apply(lambda v: Connection(**v))

    def _plain(self) -> dict[str, Any] | None:
        """The values when every one is a plain value; None when one is not known yet."""
        values = self._raw()
        if any(not (v is None or isinstance(v, str)) for v in values.values()):
            return None
        return {k: v for k, v in values.items() if v is not None}
