"""Start-up time: `import lancedb` also imports the generated REST client of Lance Namespace,
whose API classes build pydantic validators at import (~0.8 s of the ~1.5 s lancedb takes on
two cores). A store on disk, in object storage or in LanceDB Cloud never uses that client;
only a REST namespace connection does. So the client's package body is loaded on first use of
one of its names; its submodules (the models LanceDB does import) load as usual.
"""

from __future__ import annotations

import importlib.util
import sys
import threading
from typing import Any

__all__ = ["defer_namespace_client"]

NAMESPACE_CLIENT = "lance_namespace_urllib3_client"


def defer_namespace_client() -> None:
    """Register the namespace client as a package whose body runs on first attribute access.

    Does nothing when it is already imported or not installed."""
    if NAMESPACE_CLIENT in sys.modules:
        return
    spec = importlib.util.find_spec(NAMESPACE_CLIENT)
    if spec is None or spec.loader is None or spec.submodule_search_locations is None:
        return
    package = importlib.util.module_from_spec(spec)
    lock = threading.Lock()

    def load(name: str) -> Any:
        with lock:
            if package.__dict__.get("__getattr__") is load:
                del package.__getattr__
                spec.loader.exec_module(package)  # type: ignore[union-attr]
        return getattr(package, name)

    package.__getattr__ = load  # type: ignore[method-assign]
    sys.modules[NAMESPACE_CLIENT] = package

