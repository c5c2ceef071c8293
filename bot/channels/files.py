"""Import adapter: JSONL or CSV exports of other inboxes (email, social DMs, forums) -> Messages.

Columns (JSONL keys or CSV header names):

============  ========  ======================================================================
column        required  meaning
============  ========  ======================================================================
text          yes       the message
sender        yes       the sender's id in the source (an email address, a handle, a user id)
sender_name   no        display name ("Anna Kowalski")
source        no        where it came from: email, instagram, forum, telegram, slack... (default: import)
chat          no        conversation / thread id (default: the sender: one conversation per person)
timestamp     no        ISO 8601 (``2026-10-05T14:32:10Z``) or Unix seconds (default: time of import)
id            no        the source's message id; without it, re-importing the same row is still detected
sender_tags   no        contact tags: a JSON list, or ``;``-separated in CSV
language      no        language code such as en, de
============  ========  ======================================================================

``thread`` and ``chat_id`` are accepted as other names for ``chat``; an export that names a column otherwise is
read with ``columns`` (``resonate ingest --map text=message``). Other columns are not read, and listed once in
``ReadResult.ignored`` (a misspelt optional column shows up there). Bad rows are reported with their line number
and skipped; good rows are kept.
"""

from __future__ import annotations

import csv
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Mapping

from bot.errors import IngestError
from bot.message import MAX_TEXT_CHARS, Message, parse_time, utcnow

COLUMNS = ("text", "sender", "sender_name", "source", "chat", "timestamp", "id", "sender_tags", "language")
KNOWN = set(COLUMNS) | {"thread", "chat_id"}  # other names for chat


@dataclass
class ReadResult:
    messages: list[Message] = field(default_factory=list)
    errors: list[IngestError] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)  # the file's columns that are none of KNOWN, in order seen


def detect_format(path: Path, fmt: str | None = None) -> str:
    if fmt:
        return fmt.lower()
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson", ".json"):
        return "jsonl"
    if suffix in (".csv", ".tsv"):
        return "csv"
    raise IngestError(str(path), 0, f"unknown file type {suffix!r}: use .jsonl or .csv, or pass --format")


def read_file(path: str | Path, fmt: str | None = None, columns: Mapping[str, str] | None = None) -> ReadResult:
    """``columns``: for each of Resonate's columns that the file names otherwise, the file's name for it
    (``{"text": "message", "sender": "from"}``); a column of the file's own under that name is then not read."""
    path = Path(path)
    if not path.is_file():
        raise IngestError(str(path), 0, "file not found")
    columns = dict(columns or {})
    unknown = sorted(set(columns) - KNOWN)
    if unknown:
        raise IngestError(str(path), 0, f"cannot read a column as {unknown[0]!r} (known: {', '.join(sorted(KNOWN))})")
    ours = {theirs: name for name, theirs in columns.items()}
    kind = detect_format(path, fmt)
    rows = _jsonl_rows(path) if kind == "jsonl" else _csv_rows(path, ours)
    result = ReadResult()
    ignored: dict[str, None] = {}
    seen: dict[str, int] = {}
    imported_at = utcnow().replace(microsecond=0)  # a time to the second, like the sources give
    for line, row in rows:
        if isinstance(row, IngestError):
            result.errors.append(row)
            continue
        named, not_read = known_columns(row, columns)
        ignored.update(dict.fromkeys(not_read))
        if named.get("id") in (None, "") and named.get("timestamp") in (None, ""):
            # Neither an id nor a time: the message is dated at import, so its content key would change on every
            # import. The same row of the same file gets the same key instead: its content and how many times
            # that content came before it (a second "thanks!" from the same person is a second message).
            same = json.dumps([named.get(k) for k in ("source", "sender", "chat", "thread", "chat_id", "text")],
                              default=str)
            seen[same] = seen.get(same, 0) + 1
            named["id"] = "row:" + hashlib.sha256(f"{same}#{seen[same]}".encode()).hexdigest()[:20]
        try:
            result.messages.append(to_message(named, imported_at))
        except ValueError as exc:
            result.errors.append(IngestError(str(path), line, str(exc)))
    result.ignored = list(ignored)
    return result


def known_columns(row: Mapping[str, Any], columns: Mapping[str, str] | None = None) -> tuple[dict[str, Any], list[str]]:
    """The row under Resonate's column names (``columns`` as in :func:`read_file`), and its keys that are none of
    them (not read)."""
    columns = columns or {}
    ours = {theirs: name for name, theirs in columns.items()}
    named, not_read = {}, []
    for key, value in row.items():
        name = ours.get(key, None if key in columns else key)  # mapped, or replaced by a mapped column
        if name in KNOWN:
            named[name] = value
        else:
            not_read.append(key)
    return named, not_read


def _jsonl_rows(path: Path) -> Iterator[tuple[int, Any]]:
    with open(path, encoding="utf-8-sig", errors="strict") as fh:
        line = 0
        while True:
            line += 1
            try:
                raw = fh.readline()
            except UnicodeDecodeError as exc:
                yield line, IngestError(str(path), line, f"not UTF-8 text ({exc.reason})")
                return
            if not raw:
                return
            if not raw.strip():
                continue
            text = raw.rstrip("\r\n")  # a column past the row's end reads "line 2 column 1" to json
            try:
                row = json.loads(text)
            except json.JSONDecodeError as exc:
                what = exc.msg.removesuffix(" at")  # json says "Unterminated string starting at"
                ends = " (the row ends there)" if exc.pos >= len(text) else ""
                yield line, IngestError(str(path), line, f"invalid JSON: {what} at column {exc.pos + 1}{ends}")
                continue
            if not isinstance(row, dict):
                yield line, IngestError(str(path), line, "each line must be a JSON object")
                continue
            yield line, row


def _csv_rows(path: Path, ours: Mapping[str, str]) -> Iterator[tuple[int, Any]]:
    """``ours``: the file's name of a column -> Resonate's, for the columns named otherwise."""
    try:
        with open(path, encoding="utf-8-sig", newline="") as fh:
            dialect = csv.excel_tab if path.suffix.lower() == ".tsv" else csv.excel
            reader = csv.DictReader(fh, dialect=dialect)
            names = {ours.get(f, f) for f in reader.fieldnames or []}
            if not {"text", "sender"} <= names:
                yield 1, IngestError(str(path), 1, f"the header must name at least the columns text and sender "
                                                   f"(found: {', '.join(reader.fieldnames or []) or 'nothing'}); "
                                                   "read yours as them with --map text=COLUMN --map sender=COLUMN")
                return
            for row in reader:
                if None in row:
                    yield reader.line_num, IngestError(str(path), reader.line_num, "more cells than header columns")
                    continue
                yield reader.line_num, {k: v for k, v in row.items() if v not in (None, "")}
    except UnicodeDecodeError as exc:
        yield 0, IngestError(str(path), 0, f"not UTF-8 text ({exc.reason})")
    except csv.Error as exc:
        yield 0, IngestError(str(path), 0, f"invalid CSV: {exc}")


def to_message(row: dict[str, Any], imported_at=None) -> Message:
    """One import row -> Message; ValueError says what is wrong with the row."""
    unknown = sorted(set(row) - KNOWN)
    if unknown:
        raise ValueError(f"unknown column {unknown[0]!r} (known: {', '.join(sorted(KNOWN))})")
    text = row.get("text")
    if not isinstance(text, str) or not text.strip():
        raise ValueError("'text' is missing or empty")
    if len(text) > MAX_TEXT_CHARS:
        raise ValueError(f"'text' is {len(text)} characters; at most {MAX_TEXT_CHARS}")
    sender = row.get("sender")
    if sender is None or not str(sender).strip():
        raise ValueError("'sender' is missing or empty")
    ts = row.get("timestamp")
    try:
        timestamp = parse_time(ts) if ts not in (None, "") else (imported_at or utcnow())
    except (ValueError, OverflowError, OSError):
        raise ValueError(f"'timestamp' {ts!r} is not ISO 8601 (2026-10-05T14:32:10Z) or Unix seconds") from None
    tags = row.get("sender_tags") or []
    if isinstance(tags, str):
        tags = [t.strip() for t in tags.split(";") if t.strip()]
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise ValueError("'sender_tags' must be a list of text tags")
    chat = row.get("chat") or row.get("thread") or row.get("chat_id") or ""
    source = str(row.get("source") or "import").strip().lower()
    return Message(
        text=text, source=source, sender_id=str(sender).strip(), source_id=str(row.get("id") or ""),
        sender_name=str(row.get("sender_name") or "").strip(), chat_id=str(chat), timestamp=timestamp,
        sender_tags=tuple(tags), language=row.get("language") or None, raw=None,
    )
