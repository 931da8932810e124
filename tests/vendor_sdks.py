"""Load the vendor SDKs' lazily imported modules at collection, before any emulator thread runs.

Both SDKs import most of their modules on first attribute access (a module ``__getattr__``
calling ``import_module``). Done during a test, such an import can run while an emulator's
server thread imports too, and CPython's import machinery then failed with a ``KeyError``
(1 run in 3). Importing every module the tests reach up front, on the main thread while pytest
collects, leaves nothing to import while servers run; ``no_late_imports`` checks that stays so.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager

RESPAN_MODULES = (
    "respan.core",
    "respan.errors",
    "respan.users",
    "respan.credit_transactions",
    "respan.types.filters",
    "respan.types.filter_value",
    "respan.types.filter_value_operator",
)
# autumn_sdk.models as a whole does not import (a model refers to a name it never defines):
# only the operations the tests use.
AUTUMN_MODULES = (
    "autumn_sdk.customers",
    "autumn_sdk.utils",
    *(
        f"autumn_sdk.models.{name}"
        for name in (
            "advancetestclockop",
            "customer",
            "customerexpand",
            "deletecustomerop",
            "getcustomerop",
            "getorcreatecustomerop",
            "listpurchasesop",
            "listsubscriptionsop",
            "updatecustomerop",
        )
    ),
)


def import_whole(*names: str) -> None:
    """Import each module and, for a package, every module below it."""
    for name in names:
        module = importlib.import_module(name)
        for info in pkgutil.walk_packages(getattr(module, "__path__", []), f"{name}."):
            importlib.import_module(info.name)


@contextmanager
def no_late_imports(package: str) -> Iterator[None]:
    """Fail if the block imports a module of ``package`` that was not loaded before it."""
    before = {name for name in sys.modules if name.split(".")[0] == package}
    yield
    late = sorted(
        name for name in sys.modules if name.split(".")[0] == package and name not in before
    )
    assert not late, f"{package} modules imported during the test (add to import_whole): {late}"
