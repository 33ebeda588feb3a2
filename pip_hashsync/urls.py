"""URL helpers shared by the reader, the index client and the messages."""

from __future__ import annotations

import os
import re
import urllib.parse

#: A URL inside a message: a scheme, ``://``, then anything up to a space or a quote.
_URL_IN_TEXT = re.compile(r"""[A-Za-z][A-Za-z0-9+.-]*://[^\s'"<>]+""")


def path_to_url(path: str) -> str:
    """A ``file:`` URL for a path, made absolute the way pip makes it."""
    import urllib.request  # costs an HTTP stack; only paths need it

    absolute = os.path.normpath(os.path.abspath(path))
    return urllib.parse.urljoin("file:", urllib.request.pathname2url(absolute))


def url_to_path(url: str) -> str:
    """The local path of a ``file:`` URL."""
    import urllib.request  # costs an HTTP stack; only paths need it

    parts = urllib.parse.urlsplit(url)
    return urllib.request.url2pathname(parts.path)


def redact(url: str) -> str:
    """A URL with its credentials hidden, so they are never printed or stored: a password
    becomes ``****``, and so does a user name given alone (it is usually a token)."""
    parts = urllib.parse.urlsplit(url)
    if "@" not in parts.netloc:
        return url
    userinfo, _, host = parts.netloc.rpartition("@")
    user, colon, _ = userinfo.partition(":")
    hidden = f"{user}:****" if colon else "****"
    return urllib.parse.urlunsplit(parts._replace(netloc=f"{hidden}@{host}"))


def redact_text(text: str) -> str:
    """``text`` with every URL in it redacted as :func:`redact` does: for messages that quote
    a requirements line, an option's value or a server's answer.

    >>> redact_text("Invalid requirement: a @ https://me:token@host/a.whl --bad")
    'Invalid requirement: a @ https://me:****@host/a.whl --bad'
    """
    if "@" not in text:
        return text  # no credentials possible; the usual case costs one scan
    return _URL_IN_TEXT.sub(_redact_match, text)


def _redact_match(match: re.Match[str]) -> str:
    try:
        return redact(match.group())
    except ValueError:  # not a URL urlsplit can read (a broken IPv6 host): hide it whole
        return "****"
