"""Whether idxmap runs on its optional C extension (``idxmap._native``), and why not.

The extension answers ``ix[k]``, ``ix.get(k)``, ``k in ix`` and ``get_many`` in C over a mapping
of its own; it is built by setup.py when a compiler is there, and the pure package answers the
same without it. ``IDXMAP_PURE=1`` in the environment makes this process ignore an installed
extension (the tests run both ways).
"""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Optional

extension: Any = None
"""The loaded module idxmap._native, or None."""

reason: Optional[str] = None
"""Why ``extension`` is None (None when it is loaded)."""

if os.environ.get("IDXMAP_PURE") == "1":
    reason = "IDXMAP_PURE=1 is set"
else:
    try:
        from . import _native as extension  # type: ignore[attr-defined, no-redef]
    except ImportError as e:
        # Not there (a name the package does not have), or there and failing to load.
        missing = "cannot import name '_native'" in str(e) or "No module named" in str(e)
        reason = (
            "the C extension is not installed (built without a compiler, or with IDXMAP_NO_EXTENSION=1)"
            if missing
            else f"the C extension failed to load: {e}"
        )
    else:
        if not hasattr(extension, "IndexBase"):
            # The source tree's folder of C sources on the path, not a built extension.
            extension = None
            reason = "the C extension is not installed (idxmap/_native holds its sources only)"


def native_available() -> bool:
    """True when lookups, get_many and builds run in idxmap's C extension; see
    :func:`native_reason` when they do not."""
    return extension is not None


def native_reason() -> Optional[str]:
    """Why the C extension is not in use (``IDXMAP_PURE=1``, or not installed: built without a
    compiler, or with ``IDXMAP_NO_EXTENSION=1``), or None when it is."""
    return reason
