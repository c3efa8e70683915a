"""Upstream text made inert in a pull request's Markdown.

A release's error message, an OSV summary or a certificate's identity is written by someone the
reviewer never chose. In the body they read before merging it must stay plain text: no forged
"verified" row, no HTML comment that hides the rows after it, no link dressed as something else,
no @mention paging a team. Everything it could use is Markdown punctuation, so all of it is
escaped, and line breaks are escaped too.
"""

from __future__ import annotations

import re

from builder.config.names import printable

# CommonMark lets a backslash escape any ASCII punctuation; these are the ones with a meaning
# inside a line (the text never starts one): emphasis, code, links and images, HTML and entities,
# table cells, strike-through and GitHub's @mentions. (A bare URL still becomes a link, but one
# that shows where it goes.)
_SPECIAL = re.compile(r"([\\`*_\[\]<>|~@&!])")


def text(value: str) -> str:
    """``value`` as literal text, on one line."""
    return _SPECIAL.sub(r"\\\1", printable(value))


def code(value: str) -> str:
    """``value`` as an inline code span (where escapes are not read, so no backtick may end it)."""
    return "`" + printable(value).replace("`", "'") + "`"
