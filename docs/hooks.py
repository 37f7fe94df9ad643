"""MkDocs hook: show the docstrings' Sphinx cross-reference roles as plain code.

geofupin's docstrings name other objects as ``:func:`geofupin.access.nearest``` (numpydoc style, read by
IDEs and ``help()``); mkdocstrings renders the role as text before the code span. This drops the role
and, for ``~a.b.c``, keeps the last name as Sphinx does.
"""

from __future__ import annotations

import re
from typing import Any

_ROLE = re.compile(r":(?:func|class|mod|meth|attr|data|exc|obj|py:\w+):<code>(~?)([^<]*)</code>")


def _plain(m: re.Match[str]) -> str:
    short, name = m.group(1), m.group(2)
    return f"<code>{name.rsplit('.', 1)[-1] if short else name}</code>"


def on_page_content(html: str, **kwargs: Any) -> str:
    return _ROLE.sub(_plain, html)
