"""Stored text as XML can carry it: every XML document CoGov writes (Atom feeds, Akoma Ntoso) passes its text through here.

XML 1.0 cannot carry the C0 control characters other than tab, newline and carriage return, nor
U+FFFE, U+FFFF or a lone surrogate — not even as character references — and lxml refuses to
build a document holding one. A text stored before inputs refused them, or restored from a
backup, may still hold them; so an XML document shows each such character as U+FFFD
REPLACEMENT CHARACTER, one for one, and changes nothing else. JSON carries every character
(escaped), so the JSON outputs and the signed record keep the exact text, and the record's
`text_sha256` is always of the exact text.
"""

from __future__ import annotations

import json
import re

REPLACEMENT = "\ufffd"
# The complement of XML 1.0's `Char` production, within what a Python string can hold.
NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def xml_text(value: str) -> str:
    """`value` with each character XML 1.0 cannot carry replaced by U+FFFD; every other character as it was."""
    return NOT_XML.sub(REPLACEMENT, value)


def xml_json(value: object) -> str:
    """`value` as compact JSON (sorted keys) that XML can carry and that parses back to exactly `value`.

    JSON escapes control characters itself; what else XML cannot carry (U+FFFE, U+FFFF, lone
    surrogates) can only stand inside a JSON string, where a `\\uXXXX` escape says the same.
    """
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return NOT_XML.sub(lambda found: f"\\u{ord(found.group()):04x}", text)
