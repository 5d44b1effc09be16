"""The provider under the name that states written by earlier versions record.

Pulumi pickles a dynamic provider by reference, so a stack's state names the module
the provider class came from; those states must keep reading and deleting. Internal:
import nothing from here.
"""

from ._provider import IntegrationProvider

__all__ = ["IntegrationProvider"]
