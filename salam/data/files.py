"""Reading JSON and JSON Lines files so that every problem becomes a DataError naming the place.

Files are read within bounds: only regular files are opened (a FIFO, a device such as
/dev/zero or a socket is refused before anything is read, so nothing hangs), never more than
`max_bytes` of them (SALAM_MAX_INPUT_BYTES), and JSON Lines one line at a time, so a bad line
is reported as soon as it is read and memory follows the records kept, not the file.
"""

from __future__ import annotations

import codecs
import json
import os
import stat
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from salam.errors import DataError

LIMIT_SETTING = "SALAM_MAX_INPUT_BYTES"
_KINDS = (
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


@contextmanager
def open_question_file(path: Path, max_bytes: int) -> Iterator[IO[bytes]]:
    """`path` open for reading in binary, once it is known to be a regular file of at most
    `max_bytes` bytes."""
    source = str(path)
    try:
        # O_NONBLOCK: opening a FIFO must not wait for a writer; it changes nothing for files.
        descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as err:
        raise DataError(source, f"cannot read the file ({err.strerror or err})") from err
    with os.fdopen(descriptor, "rb") as stream:
        status = os.fstat(descriptor)
        mode, size = status.st_mode, status.st_size
        if not stat.S_ISREG(mode):
            kind = next((name for test, name in _KINDS if test(mode)), "a special file")
            raise DataError(source, f"not a regular file ({kind}); give a .json or .jsonl file")
        if size > max_bytes:
            raise DataError(source, _too_large(size, max_bytes))
        yield stream


def numbered_lines(stream: IO[bytes], source: str, max_bytes: int) -> Iterator[tuple[int, str]]:
    """(line number, text) of every non-blank line, decoded one line at a time; the text keeps
    no line ending. Stops with a DataError past `max_bytes` (a file that grows while read)."""
    read = 0
    number = 0
    while line := stream.readline(max_bytes - read + 1):
        number += 1
        read += len(line)
        if read > max_bytes:
            raise DataError(source, _too_large(read, max_bytes, at_least=True))
        if number == 1:
            line = line.removeprefix(codecs.BOM_UTF8)
        if line.strip():
            yield number, _decoded(line, source, number).rstrip("\r\n")


def json_line_objects(
    lines: Iterable[tuple[int, str]], source: str
) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) for every line; each line must hold one JSON object, and there
    must be at least one."""
    found = False
    for number, text in lines:
        found = True
        yield number, json_line_object(number, text, source)
    if not found:
        raise DataError(source, "the file is empty")


def json_line_object(number: int, text: str, source: str) -> dict[str, Any]:
    where = f"line {number}"
    try:
        value = json.loads(text)
    except json.JSONDecodeError as err:
        problem = f"invalid JSON at column {err.colno}: {err.msg}"
        raise DataError(source, problem, record=where) from err
    if not isinstance(value, dict):
        problem = f"expected a JSON object, got {type(value).__name__}"
        raise DataError(source, problem, record=where)
    return value


@dataclass(frozen=True)
class FirstLine:
    """The first non-blank line of a file, parsed once: it tells the format, and for a file
    that is one JSON value it may be the whole value."""

    number: int
    text: str
    value: Any = None
    error: json.JSONDecodeError | None = None

    @classmethod
    def parse(cls, number: int, text: str) -> FirstLine:
        try:
            return cls(number, text, json.loads(text))
        except json.JSONDecodeError as err:
            return cls(number, text, error=err)

    @property
    def object(self) -> dict[str, Any] | None:
        """The line as a JSON object, or None when it is not one on its own."""
        return self.value if self.error is None and isinstance(self.value, dict) else None


def first_line(lines: Iterator[tuple[int, str]], source: str) -> FirstLine:
    first = next(lines, None)
    if first is None:
        raise DataError(source, "the file is empty")
    return FirstLine.parse(*first)


def read_json_file(path: Path, max_bytes: int) -> Any:
    """The whole file as one JSON value (BBH files, the paper's JSON lists)."""
    source = str(path)
    with open_question_file(path, max_bytes) as stream:
        lines = numbered_lines(stream, source, max_bytes)
        first = first_line(lines, source)
        return read_json_document(stream, first, lines, source, max_bytes)


def read_json_document(
    stream: IO[bytes],
    first: FirstLine,
    rest: Iterator[tuple[int, str]],
    source: str,
    max_bytes: int,
) -> Any:
    """The file as one JSON value, given its first non-blank line and the lines after it.

    A first line that is a whole JSON value, or that is invalid before its end, settles the
    matter without the file being read into memory: a file of millions of lines fails at
    line 1 at once.
    """
    error = first.error
    if error is None:
        extra = next(rest, None)
        if extra is None:
            return first.value
        column = len(extra[1]) - len(extra[1].lstrip()) + 1
        raise _invalid_json(source, extra[0], column, "Extra data")
    if error.pos < len(first.text.rstrip()):
        raise _invalid_json(source, first.number, error.colno, error.msg) from error
    stream.seek(0)
    return parse_json(_read_text(stream, source, max_bytes), source)


def parse_json(text: str, source: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise _invalid_json(source, err.lineno, err.colno, err.msg) from err


def require_text(record: Mapping[str, Any], key: str, source: str, where: str) -> str:
    """A non-empty string field; numbers are accepted and written as text (targets like 8)."""
    if key not in record or record[key] is None:
        raise DataError(source, f"missing '{key}'", record=where)
    value = record[key]
    if isinstance(value, bool) or not isinstance(value, str | int):
        problem = f"'{key}' must be a string, got {type(value).__name__}"
        raise DataError(source, problem, record=where)
    text = str(value)
    if not text.strip():
        raise DataError(source, f"'{key}' is empty", record=where)
    return text


def require_object(value: Any, source: str, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        problem = f"expected a JSON object, got {type(value).__name__}"
        raise DataError(source, problem, record=where)
    return value


def _read_text(stream: IO[bytes], source: str, max_bytes: int) -> str:
    raw = stream.read(max_bytes + 1)
    if len(raw) > max_bytes:
        raise DataError(source, _too_large(len(raw), max_bytes, at_least=True))
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        raise DataError(source, _not_utf8(raw[err.start], line)) from err


def _decoded(line: bytes, source: str, number: int) -> str:
    try:
        return line.decode("utf-8")
    except UnicodeDecodeError as err:
        raise DataError(source, _not_utf8(line[err.start], number)) from err


def _not_utf8(byte: int, line: int) -> str:
    return f"not UTF-8 text: byte 0x{byte:02x} at line {line}; save it as UTF-8"


def _invalid_json(source: str, line: int, column: int, message: str) -> DataError:
    return DataError(source, f"invalid JSON at line {line}, column {column}: {message}")


def _too_large(size: int, max_bytes: int, *, at_least: bool = False) -> str:
    what = "the file is over" if at_least else f"the file is {_megabytes(size)}, over"
    return (
        f"{what} the {_megabytes(max_bytes)} limit ({LIMIT_SETTING}={max_bytes}); "
        "split it, or raise the limit"
    )


def _megabytes(size: int) -> str:
    return f"{size / 1024**2:,.1f} MiB" if size >= 1024**2 else f"{size:,} bytes"
