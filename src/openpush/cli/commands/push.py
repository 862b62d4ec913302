"""``openpush push PATH --source SRC``: push a directory or a JSON/JSONL file of items.

Items travel the way Coveo's own clients send large loads (push-api.md §2.5): each batch body
is written to a fresh file container (``POST …/files`` then ``PUT uploadUri``) and submitted
with ``PUT …/documents/batch?fileId=``. A container is never reused: the server releases it
once the batch has consumed it.

Design points, and why:

- **Bounded memory.** The input is read lazily (``ijson`` for ``.json``, line by line for
  JSONL, one file at a time for a directory) and at most one batch body is held, so a 5 GB
  JSONL file pushes like a small one.
- **Batches are cut by size.** Serialized items accumulate until the next one would take the
  body over ``--batch-mb``. An item too large for a batch on its own could never be accepted,
  so it is reported as rejected locally and not sent.
- **Outcomes come later.** The server answers 202 before it validates anything, so unless
  ``--no-wait`` is given the command polls ``GET …/documents/batches/{id}`` until every batch
  is done, then pages through the REJECTED and ERROR outcomes to show their reasons.

Input formats:

- a directory: every regular file (recursively) becomes one item, ``documentId`` = base URI +
  the percent-encoded relative path; text files go in ``data``, others Base64-encoded in
  ``compressedBinaryData`` (``UNCOMPRESSED``);
- a ``.json`` file: a list of items, or ``{"addOrUpdate": [...], "delete": [...]}``;
- a ``.jsonl`` / ``.ndjson`` file: one item object per line, each one added or updated (this
  format has no deletes); blank lines are ignored.

Exit codes: 0 when every item was indexed (COMPLETED or WARNING; a SKIPPED item lost to a
newer version of itself is reported but not an error), 1 when items were rejected, errored
or not sent, a batch failed, or the wait timed out, 2 for usage, connection and HTTP errors.
"""

from __future__ import annotations

import base64
import os
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, NamedTuple
from urllib.parse import quote

import click
import httpx
import ijson
import orjson
from rich import filesize
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from openpush.cli.client import http_error_detail, server_options

__all__ = ["push"]

MB = 1024 * 1024
ADD, DELETE = "addOrUpdate", "delete"
RESULTS = ("COMPLETED", "WARNING", "REJECTED", "SKIPPED", "ERROR")
FAILED_RESULTS = ("REJECTED", "ERROR")
DONE_STATES = frozenset({"COMPLETED", "FAILED"})
TABLE_FAILURES = 20
RETRY_STATUSES = frozenset({429, 503})
RETRIES = 5
POLL_FIRST, POLL_MAX = 0.2, 2.0
JSONL_SUFFIXES = frozenset({".jsonl", ".ndjson"})
TEXT_SUFFIXES = frozenset(
    {
        ".txt", ".text", ".md", ".markdown", ".rst", ".adoc", ".html", ".htm", ".xhtml",
        ".json", ".jsonl", ".ndjson", ".csv", ".tsv", ".xml", ".yaml", ".yml", ".toml",
        ".ini", ".cfg", ".conf", ".log", ".css", ".js", ".ts", ".py", ".java", ".c", ".h",
        ".cpp", ".cs", ".go", ".rs", ".rb", ".php", ".sh", ".sql", ".svg", ".tex",
    }
)  # fmt: skip
# b'{"addOrUpdate":[],"delete":[]}': the body around the entries
BODY_OVERHEAD = len(ADD) + len(DELETE) + 14


class PushError(click.ClickException):
    """A usage, connection or HTTP error: printed as ``Error: …``, exit code 2."""

    exit_code = 2


class InputError(PushError):
    """PATH cannot be read as items (e.g. a ``.json`` file that is not valid JSON)."""


# -- input --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Entry:
    """One entry read from the input: an item to add or a delete, with where it came from."""

    section: str  # ADD or DELETE
    value: Any
    origin: str


@dataclass(frozen=True, slots=True)
class Rejection:
    """An entry refused before sending (never reached the server)."""

    document_id: str
    reason: str


def read_entries(path: Path, base_uri: str | None, limit: int) -> Iterator[Entry | Rejection]:
    """The entries of ``path``, read lazily, whatever its form."""
    if path.is_dir():
        base = base_uri or path.resolve().as_uri()
        return directory_entries(path, base, limit)
    if base_uri:
        raise click.UsageError("--base-uri applies only when PATH is a directory")
    suffix = path.suffix.lower()
    if suffix == ".json":
        return json_entries(path)
    if suffix in JSONL_SUFFIXES:
        return jsonl_entries(path)
    raise click.UsageError(f"{path}: expected a directory, a .json, .jsonl or .ndjson file")


def directory_entries(root: Path, base_uri: str, limit: int) -> Iterator[Entry | Rejection]:
    """One item per regular file under ``root``, in a stable (sorted) order."""
    prefix = base_uri if base_uri.endswith("/") else base_uri + "/"
    for folder, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            file = Path(folder) / name
            if not file.is_file():
                continue
            document_id = prefix + quote(file.relative_to(root).as_posix(), safe="/")
            yield file_item(file, document_id, limit)


def file_item(file: Path, document_id: str, limit: int) -> Entry | Rejection:
    """The item for one file; a file too large for any batch is refused before it is read."""
    size = file.stat().st_size
    if size + BODY_OVERHEAD > limit:
        return Rejection(document_id, f"not sent: the file ({size} bytes) exceeds --batch-mb")
    raw = file.read_bytes()
    item: dict[str, Any] = {"documentId": document_id, "title": file.name}
    if file.suffix:
        item["fileExtension"] = file.suffix.lower()
    text = _as_text(raw) if file.suffix.lower() in TEXT_SUFFIXES else None
    if text is not None:
        item["data"] = text
    else:
        item["compressedBinaryData"] = base64.b64encode(raw).decode("ascii")
        item["compressionType"] = "UNCOMPRESSED"
    return Entry(ADD, item, str(file))


def _as_text(raw: bytes) -> str | None:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return None


def jsonl_entries(path: Path) -> Iterator[Entry | Rejection]:
    """One item per non-blank line; a line that is not JSON is refused, the rest go on."""
    with path.open("rb") as stream:
        for number, line in enumerate(stream, start=1):
            if not line.strip():
                continue
            origin = f"{path.name}:{number}"
            try:
                yield Entry(ADD, orjson.loads(line), origin)
            except orjson.JSONDecodeError as exc:
                yield Rejection(origin, f"not sent: invalid JSON on line {number}: {exc}")


def json_entries(path: Path) -> Iterator[Entry]:
    """Entries of a ``.json`` file: a list of items or an ``addOrUpdate``/``delete`` object."""
    with path.open("rb") as stream:
        first = _first_byte(stream)
        try:
            if first == b"[":
                for index, value in enumerate(ijson.items(stream, "item", use_float=True)):
                    yield Entry(ADD, value, f"{path.name}[{index}]")
            elif first == b"{":
                yield from _object_entries(ijson.basic_parse(stream, use_float=True), path.name)
            else:
                raise InputError(f"{path}: expected a JSON list or object")
        except ijson.JSONError as exc:
            first_line = str(exc).strip().splitlines()[0]
            raise InputError(f"{path}: invalid JSON: {first_line}") from exc


def _first_byte(stream: BinaryIO) -> bytes:
    """The first significant byte of the file; the stream is rewound for the parser."""
    head = stream.read(4096).lstrip(b"\xef\xbb\xbf \t\r\n")
    stream.seek(0)
    return head[:1]


_SECTIONS = {ADD.lower(): ADD, DELETE.lower(): DELETE}
_STARTS = frozenset({"start_map", "start_array"})
_ENDS = frozenset({"end_map", "end_array"})


def _object_entries(events: Iterator[tuple[str, Any]], name: str) -> Iterator[Entry]:
    """Stream the ``addOrUpdate`` and ``delete`` arrays (keys case-insensitive, §2.5)."""
    next(events)  # start_map
    for event, key in events:
        if event == "end_map":
            return
        section = _SECTIONS.get(str(key).lower())
        event, value = next(events)
        if section is None:
            _build(event, value, events)  # an unknown key: skip its value
            continue
        if event != "start_array":
            raise InputError(f"{name}: {key!r} must be an array")
        for index, (event, value) in enumerate(_array_events(events)):
            yield Entry(section, _build(event, value, events), f"{name}:{key}[{index}]")


def _array_events(events: Iterator[tuple[str, Any]]) -> Iterator[tuple[str, Any]]:
    """The first event of each element, until the array ends."""
    for event, value in events:
        if event == "end_array":
            return
        yield event, value


def _build(event: str, value: Any, events: Iterator[tuple[str, Any]]) -> Any:
    """The value starting with ``(event, value)``: only that one value is built in memory."""
    if event not in _STARTS:
        return value
    builder = ijson.ObjectBuilder()
    builder.event(event, value)
    depth = 1
    while depth:
        event, value = next(events)
        builder.event(event, value)
        depth += (event in _STARTS) - (event in _ENDS)
    return builder.value


# -- encoding and batching ----------------------------------------------------------------


class Encoded(NamedTuple):
    section: str
    data: bytes


def encode(entry: Entry, limit: int) -> Encoded | Rejection:
    """The entry as it goes into a batch body, or why it cannot be sent."""
    value = entry.value
    if entry.section == DELETE and isinstance(value, str):
        value = {"documentId": value}
    if not isinstance(value, dict):
        return Rejection(entry.origin, "not sent: an entry must be a JSON object")
    document_id = _document_id(value)
    if not document_id:
        return Rejection(entry.origin, "not sent: the entry has no documentId")
    if entry.section == DELETE and not any(k.lower() == "deletechildren" for k in value):
        value = {**value, "deleteChildren": False}
    try:
        data = orjson.dumps(value)
    except orjson.JSONEncodeError as exc:
        return Rejection(document_id, f"not sent: cannot serialize the entry: {exc}")
    if BODY_OVERHEAD + len(data) > limit:
        return Rejection(
            document_id, f"not sent: the entry ({len(data)} bytes) exceeds --batch-mb alone"
        )
    return Encoded(entry.section, data)


def _document_id(value: dict[str, Any]) -> str:
    """The entry's documentId (reserved keys are case-insensitive, §2.2.2)."""
    for key, found in value.items():
        if key.lower() == "documentid" and isinstance(found, str):
            return found
    return ""


class BatchBody:
    """The batch being filled: its entries, serialized and joined, and its exact body size.

    Entries are copied into one buffer per section rather than kept as ``bytes`` objects:
    ``orjson.dumps`` returns over-allocated objects (about 4 KB for a 250-byte item), which
    would multiply the memory a batch takes.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.sections: dict[str, bytearray] = {ADD: bytearray(), DELETE: bytearray()}
        self.count = 0
        self.size = BODY_OVERHEAD

    def __len__(self) -> int:
        return self.count

    def _growth(self, entry: Encoded) -> int:
        return len(entry.data) + (1 if self.sections[entry.section] else 0)  # 1: the comma

    def fits(self, entry: Encoded) -> bool:
        return self.size + self._growth(entry) <= self.limit

    def add(self, entry: Encoded) -> None:
        self.size += self._growth(entry)
        buffer = self.sections[entry.section]
        if buffer:
            buffer += b","
        buffer += entry.data
        self.count += 1

    def render(self) -> bytes:
        adds, deletes = self.sections[ADD], self.sections[DELETE]
        return b'{"%s":[%s],"%s":[%s]}' % (ADD.encode(), adds, DELETE.encode(), deletes)


# -- the server ---------------------------------------------------------------------------


class PushApi:
    """The few Push API calls the command makes, with retries on 429 and 503."""

    def __init__(self, url: str, org: str, api_key: str) -> None:
        self._base = url.rstrip("/")
        self._org = quote(org, safe="")
        self._auth = {"Authorization": f"Bearer {api_key}"}
        self._http = httpx.Client(timeout=httpx.Timeout(60.0, connect=10.0))

    def close(self) -> None:
        self._http.close()

    def _source_url(self, source: str, suffix: str) -> str:
        source_path = quote(source, safe="")
        return f"{self._base}/push/v1/organizations/{self._org}/sources/{source_path}{suffix}"

    def create_container(self) -> dict[str, Any]:
        url = f"{self._base}/push/v1/organizations/{self._org}/files"
        return self._call("POST", url, expect=201, headers=self._auth).json()

    def upload(self, container: dict[str, Any], body: bytes) -> None:
        """``PUT uploadUri`` with exactly the required headers: no Authorization (S3-style)."""
        headers = dict(container.get("requiredHeaders") or {})
        self._call("PUT", container["uploadUri"], expect=200, headers=headers, content=body)

    def submit_batch(self, source: str, file_id: str) -> str:
        url = self._source_url(source, "/documents/batch")
        response = self._call(
            "PUT", url, expect=202, headers=self._auth, params={"fileId": file_id}
        )
        return str(response.json()["batchId"])

    def batch_status(
        self, source: str, batch_id: str, *, page: int = 0, per_page: int = 1
    ) -> dict[str, Any]:
        """The batch's progress and, one page at a time, its REJECTED and ERROR outcomes."""
        url = self._source_url(source, f"/documents/batches/{quote(batch_id, safe='')}")
        params = {"page": page, "perPage": per_page, "result": ",".join(FAILED_RESULTS)}
        return self._call("GET", url, expect=200, headers=self._auth, params=params).json()

    def failures(self, source: str, batch_id: str) -> Iterator[dict[str, Any]]:
        for page in range(sys.maxsize):
            status = self.batch_status(source, batch_id, page=page, per_page=1000)
            yield from status.get("items") or []
            if not status.get("hasMore"):
                return

    def _call(self, method: str, url: str, *, expect: int, **kwargs: Any) -> httpx.Response:
        for attempt in range(RETRIES + 1):
            try:
                response = self._http.request(method, url, **kwargs)
            except httpx.HTTPError as exc:
                raise PushError(f"{method} {_shown(url)}: cannot reach the server: {exc}") from exc
            if response.status_code in RETRY_STATUSES and attempt < RETRIES:
                time.sleep(_backoff(response, attempt))
                continue
            if response.status_code != expect:
                raise PushError(_http_error(method, url, response))
            return response
        raise AssertionError("unreachable")  # pragma: no cover


def _shown(url: str) -> str:
    """The URL without its query string (an upload URI's signature is a secret)."""
    return url.split("?", 1)[0]


def _backoff(response: httpx.Response, attempt: int) -> float:
    """Seconds to wait before retrying: ``Retry-After`` if given, else exponential."""
    retry_after = response.headers.get("Retry-After", "")
    if retry_after.isdigit():
        return min(float(retry_after), 30.0)
    return min(0.5 * 2**attempt, 8.0)


def _http_error(method: str, url: str, response: httpx.Response) -> str:
    """``METHOD path: HTTP status CODE: message``, with the server's own message."""
    return f"{method} {_shown(url)}: {http_error_detail(response)}"


# -- progress -----------------------------------------------------------------------------


class Reporter:
    """A rich progress display (a no-op when disabled): items and bytes sent, then outcomes."""

    def __init__(self, console: Console, enabled: bool) -> None:
        self.progress = Progress(
            SpinnerColumn(),
            TextColumn("[bold]{task.description}"),
            TextColumn("{task.fields[detail]}"),
            TimeElapsedColumn(),
            console=console,
            disable=not enabled,
        )
        self._task = self.progress.add_task("sending", total=None, detail="reading the input")
        self._started = time.monotonic()
        self._items = 0

    def __enter__(self) -> Reporter:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def sent(self, items: int, batches: int, size: int) -> None:
        speed = size / max(time.monotonic() - self._started, 1e-6)
        detail = (
            f"{items:,} items, {batches:,} batches, {filesize.decimal(size)} "
            f"({filesize.decimal(int(speed))}/s)"
        )
        self.progress.update(self._task, detail=detail)

    def waiting(self, items: int) -> None:
        self._items = items
        self.progress.update(self._task, description="indexing", detail=f"0 of {items:,} items")

    def processed(self, items: int) -> None:
        self.progress.update(self._task, detail=f"{items:,} of {self._items:,} items")


# -- sending ------------------------------------------------------------------------------


@dataclass
class Sent:
    """What the sending phase did."""

    batch_ids: list[str] = field(default_factory=list)
    items: int = 0
    bytes: int = 0
    rejections: list[Rejection] = field(default_factory=list)


def send_all(
    api: PushApi,
    source: str,
    entries: Iterator[Entry | Rejection],
    limit: int,
    reporter: Reporter,
) -> Sent:
    """Encode entries into size-bounded batches and send each one as soon as it is full."""
    sent = Sent()
    body = BatchBody(limit)
    try:
        for entry in entries:
            encoded = entry if isinstance(entry, Rejection) else encode(entry, limit)
            if isinstance(encoded, Rejection):
                sent.rejections.append(encoded)
                continue
            if not body.fits(encoded):
                send_batch(api, source, body, sent, reporter)
                body = BatchBody(limit)
            body.add(encoded)
    except InputError as exc:
        if sent.batch_ids:  # say what already went out: those batches will be applied
            exc.message += f" (stopped after sending {_batches(sent)})"
        raise
    if len(body):
        send_batch(api, source, body, sent, reporter)
    return sent


def _batches(sent: Sent) -> str:
    count = len(sent.batch_ids)
    return f"{sent.items:,} items in {count:,} batch{'' if count == 1 else 'es'}"


def send_batch(api: PushApi, source: str, body: BatchBody, sent: Sent, reporter: Reporter) -> None:
    """One batch: a fresh container, the upload, then the batch call."""
    data = body.render()
    container = api.create_container()
    api.upload(container, data)
    sent.batch_ids.append(api.submit_batch(source, str(container["fileId"])))
    sent.items += len(body)
    sent.bytes += len(data)
    reporter.sent(sent.items, len(sent.batch_ids), sent.bytes)


# -- waiting for outcomes -----------------------------------------------------------------


def wait_for_batches(
    api: PushApi, source: str, batch_ids: list[str], timeout: float, reporter: Reporter
) -> dict[str, dict[str, Any]]:
    """Poll until every batch is done or ``timeout`` expires; the last status of each."""
    deadline = time.monotonic() + timeout
    statuses: dict[str, dict[str, Any]] = {}
    pending, delay = list(batch_ids), POLL_FIRST
    while pending:
        pending = _poll_in_order(api, source, pending, statuses)
        reporter.processed(sum(int(s.get("processed") or 0) for s in statuses.values()))
        remaining = deadline - time.monotonic()
        if not pending or remaining <= 0:
            break
        time.sleep(min(delay, remaining))
        delay = min(delay * 1.5, POLL_MAX)
    return statuses


def _poll_in_order(
    api: PushApi, source: str, pending: list[str], statuses: dict[str, dict[str, Any]]
) -> list[str]:
    """Poll pending batches oldest first, stopping at the first one still running.

    The server applies batches in arrival order, so the ones after a running batch are
    almost certainly not done either: this keeps polling cheap with thousands of batches.
    """
    for index, batch_id in enumerate(pending):
        status = api.batch_status(source, batch_id)
        statuses[batch_id] = status
        if status.get("state") not in DONE_STATES:
            return pending[index:]
    return []


def collect_failures(
    api: PushApi, source: str, statuses: dict[str, dict[str, Any]], limit: int | None
) -> list[dict[str, Any]]:
    """The REJECTED and ERROR outcomes of the batches (at most ``limit`` when given)."""
    failures: list[dict[str, Any]] = []
    for batch_id, status in statuses.items():
        if not _has_failures(status):
            continue
        for item in api.failures(source, batch_id):
            if limit is not None and len(failures) >= limit:
                return failures
            failures.append({**item, "batchId": batch_id})
    return failures


def _has_failures(status: dict[str, Any]) -> bool:
    counts = status.get("counts") or {}
    return status.get("state") == "FAILED" or any(counts.get(r) for r in FAILED_RESULTS)


# -- the summary --------------------------------------------------------------------------


@dataclass
class Summary:
    """Everything the command reports."""

    source: str
    sent: Sent
    elapsed: float
    waited: bool
    statuses: dict[str, dict[str, Any]] = field(default_factory=dict)
    failures: list[dict[str, Any]] = field(default_factory=list)

    @property
    def counts(self) -> dict[str, int]:
        totals: Counter[str] = Counter()
        for status in self.statuses.values():
            totals.update({k: int(v) for k, v in (status.get("counts") or {}).items()})
        return {result: totals.get(result, 0) for result in RESULTS}

    @property
    def pending(self) -> list[str]:
        done = {b for b, s in self.statuses.items() if s.get("state") in DONE_STATES}
        return [b for b in self.sent.batch_ids if b not in done] if self.waited else []

    @property
    def failed_batches(self) -> list[dict[str, Any]]:
        return [
            {"batchId": b, "error": s.get("error")}
            for b, s in self.statuses.items()
            if s.get("state") == "FAILED"
        ]

    @property
    def failure_total(self) -> int:
        counts = self.counts
        return len(self.sent.rejections) + sum(counts[r] for r in FAILED_RESULTS)

    @property
    def ok(self) -> bool:
        return not (
            self.sent.rejections or self.pending or self.failed_batches or self.failure_total
        )

    @property
    def rate(self) -> float:
        return self.sent.items / self.elapsed if self.elapsed > 0 else 0.0

    def outcomes(self) -> list[dict[str, Any]]:
        """Local refusals first, then the server's REJECTED/ERROR outcomes."""
        local = [
            {"documentId": r.document_id, "result": "REJECTED", "reason": r.reason, "sent": False}
            for r in self.sent.rejections
        ]
        remote = [
            {"documentId": f.get("documentId"), "result": f.get("result"),
             "reason": f.get("reason"), "operation": f.get("operation"),
             "batchId": f.get("batchId"), "sent": True}
            for f in self.failures
        ]  # fmt: skip
        return local + remote

    def as_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "source": self.source,
            "itemsSent": self.sent.items,
            "bytesSent": self.sent.bytes,
            "batches": len(self.sent.batch_ids),
            "batchIds": self.sent.batch_ids,
            "notSent": len(self.sent.rejections),
            "waited": self.waited,
            "timedOut": bool(self.pending),
            "pendingBatches": self.pending,
            "failedBatches": self.failed_batches,
            "counts": self.counts if self.waited else None,
            "elapsedSeconds": round(self.elapsed, 3),
            "itemsPerSecond": round(self.rate, 1),
            "failures": self.outcomes(),
        }


def print_summary(console: Console, summary: Summary, timeout: float) -> None:
    """The human-readable summary: totals, then up to 20 rejected or errored items."""
    console.print(
        f"Sent {_batches(summary.sent)} ({summary.sent.bytes:,} bytes) to source {summary.source} "
        f"in {summary.elapsed:.1f}s ({summary.rate:,.1f} items/s)",
        highlight=False,
    )
    if summary.waited:
        totals = Table("Result", "Items", title="Outcomes", title_justify="left")
        for result, count in summary.counts.items():
            totals.add_row(result, f"{count:,}")
        totals.add_row("not sent", f"{len(summary.sent.rejections):,}")
        console.print(totals)
    outcomes = summary.outcomes()
    if outcomes:
        _print_failures(console, outcomes, summary.failure_total)
    for failed in summary.failed_batches:
        console.print(f"Batch {failed['batchId']} failed: {failed['error']}", highlight=False)
    console.print(_verdict(summary, timeout), highlight=False)


def _print_failures(console: Console, outcomes: list[dict[str, Any]], total: int) -> None:
    shown = outcomes[:TABLE_FAILURES]
    table = Table(
        "Document", "Result", "Reason",
        title=f"Rejected or errored items ({len(shown)} of {max(total, len(outcomes)):,})",
        title_justify="left",
    )  # fmt: skip
    for outcome in shown:
        table.add_row(
            outcome["documentId"] or f"(batch {outcome.get('batchId')})",
            outcome["result"],
            outcome["reason"] or "",
        )
    console.print(table)


def _verdict(summary: Summary, timeout: float) -> str:
    if not summary.waited:
        return "Not waiting for the outcomes (--no-wait)."
    if summary.pending:
        return f"Timed out after {timeout:g}s: {len(summary.pending)} batches still running."
    if summary.ok:
        return "Every item was indexed."
    return f"{summary.failure_total:,} items were not indexed."


# -- the command --------------------------------------------------------------------------


@click.command()
@click.argument("path", type=click.Path(exists=True, file_okay=True, dir_okay=True, path_type=Path))
@click.option("--source", "-s", required=True, help="Id of the Push source to push to.")
@server_options
@click.option(
    "--batch-mb",
    type=click.FloatRange(0, 256, min_open=True),
    default=5.0,
    show_default=True,
    help="Largest batch body, in MB (at most 256, the file container limit).",
)
@click.option(
    "--base-uri",
    default=None,
    help="documentId prefix for a directory [default: file:// + its absolute path].",
)
@click.option("--no-wait", is_flag=True, help="Send the batches and exit without their outcomes.")
@click.option(
    "--timeout",
    type=click.FloatRange(0),
    default=600.0,
    show_default=True,
    help="Seconds to wait for the outcomes.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def push(
    path: Path,
    source: str,
    url: str,
    org: str,
    api_key: str,
    batch_mb: float,
    base_uri: str | None,
    no_wait: bool,
    timeout: float,
    as_json: bool,
) -> None:
    """Push a directory, a .json or a .jsonl/.ndjson file of items to a source.

    A directory pushes every file in it (recursively) as one item. A .json file holds a
    list of items or {"addOrUpdate": [...], "delete": [...]}; a .jsonl file one item per
    line. Items are sent in batches through file containers; unless --no-wait, the command
    then waits for their outcomes and exits 1 if any item was not indexed.
    """
    started = time.monotonic()
    limit = int(batch_mb * MB)
    entries = read_entries(path, base_uri, limit)
    console = Console(width=None if sys.stdout.isatty() else 200)
    api = PushApi(url, org, api_key)
    try:
        with Reporter(console, enabled=console.is_terminal and not as_json) as reporter:
            sent = send_all(api, source, entries, limit, reporter)
            summary = Summary(source, sent, 0.0, waited=not no_wait)
            if summary.waited and sent.batch_ids:
                reporter.waiting(sent.items)
                summary.statuses = wait_for_batches(api, source, sent.batch_ids, timeout, reporter)
        if summary.waited:
            limit_shown = None if as_json else TABLE_FAILURES
            summary.failures = collect_failures(api, source, summary.statuses, limit_shown)
    finally:
        api.close()
    summary.elapsed = time.monotonic() - started
    if as_json:
        click.echo(orjson.dumps(summary.as_json(), option=orjson.OPT_INDENT_2).decode())
    else:
        print_summary(console, summary, timeout)
    sys.exit(0 if summary.ok else 1)
