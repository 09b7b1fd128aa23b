"""A profile as TOML, for `shadow profile show`: what a user copies must read back the same.

tomllib reads TOML and the standard library writes none; the profile language needs only tables,
arrays of tables and inline values, so these few lines do instead of another dependency.
"""

from __future__ import annotations

import json
from typing import Any


def to_toml(table: str, data: dict[str, Any]) -> str:
    """A profile as TOML: scalars and getter lists inline, nested tables as [sections]."""
    lines = [f"[{table}]"]
    subtables: list[str] = []
    arrays: list[str] = []
    for key, value in data.items():
        if isinstance(value, dict) and value and _is_table(value):
            subtables.append(to_toml(f"{table}.{key}", value))
        elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            if key == "retries":
                arrays += [
                    to_toml(f"{table}.{key}", v).replace(
                        f"[{table}.{key}]", f"[[{table}.{key}]]", 1
                    )
                    for v in value
                ]
            else:
                lines.append(f"{_key(key)} = {_inline(value)}")
        else:
            lines.append(f"{_key(key)} = {_inline(value)}")
    return "\n\n".join(["\n".join(lines), *subtables, *arrays])


def _is_table(value: dict[str, Any]) -> bool:
    """A section rather than an inline value: a table of the language (run, error, steps...)."""
    return not ({"path", "value"} & set(value)) and not all(
        isinstance(v, str | int | float | bool) for v in value.values()
    )


def _key(key: str) -> str:
    return key if key.replace("_", "").replace("-", "").isalnum() else json.dumps(key)


def _inline(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        # a regex reads best as a TOML literal string, which cannot hold a quote or a newline;
        # JSON's escapes are TOML basic-string escapes (DEL is the one TOML also wants escaped)
        if "\\" in value and "'" not in value and value.isprintable():
            return "'" + value + "'"
        return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_inline(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{_key(k)} = {_inline(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"no TOML for {value!r}")
