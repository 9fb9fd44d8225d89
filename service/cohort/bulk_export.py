"""A live FHIR Bulk Data ``$export`` (HL7 Bulk Data Access IG 2.0): kick-off, polling, manifest, downloads, cancel.

Only servers on the hooks' FHIR-server allow-list are contacted; the access token goes only to that server (a file
on another host that requires it is refused). Polling honours ``Retry-After`` and reports ``X-Progress``; Ctrl-C
cancels the job on the server (DELETE on the status URL). Files are streamed to disk under temporary names, each
with a size cap, and the manifest is written last: a folder with a manifest is a complete export.
"""

from __future__ import annotations

import email.utils
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import requests

from cds_hooks import ServerAllowList
from cds_hooks.fhir_client import cookieless_session
from cds_hooks.urls import same_server
from service.cohort.errors import CohortError
from service.cohort.sources import LOINC_SYSTEM, MANIFEST_NAME, SCREEN_TYPES, ObservationFilter

DEFAULT_RETRY_S = 2.0
MAX_RETRY_S = 60.0
ERRORS_FOLDER = "_errors"  # the server's OperationOutcome files (read into errors.csv, never screened)
NDJSON = "application/fhir+ndjson"
FHIR_JSON = "application/fhir+json"


@dataclass(frozen=True)
class ExportLimits:
    """Timeouts and caps of an export (the connect/read timeouts are the hooks' FHIR settings)."""

    connect_timeout_s: float
    read_timeout_s: float
    max_json_bytes: int
    max_file_bytes: int
    max_wait_s: float


@dataclass(frozen=True)
class ExportRequest:
    """What to export: the server, the level (system, Patient or Group/<id>), the types and type filters."""

    base: str
    level: str  # "system", "patient" or "group/<id>"
    types: tuple[str, ...]
    type_filters: tuple[str, ...]

    def kickoff_url(self) -> str:
        """``[base]/$export``, ``[base]/Patient/$export`` or ``[base]/Group/<id>/$export``."""
        if self.level == "system":
            return f"{self.base}/$export"
        if self.level == "patient":
            return f"{self.base}/Patient/$export"
        return f"{self.base}/Group/{self.level.removeprefix('group/')}/$export"


def screen_export(base: str, level: str, observations: ObservationFilter) -> ExportRequest:
    """An export of only what the screen reads: its types, and Observations narrowed as the hooks' prefetch is."""
    codes = ",".join(f"{LOINC_SYSTEM}|{code}" for code in observations.loinc_codes)
    filters = (f"Observation?code={codes}", f"Observation?category={observations.category}")
    return ExportRequest(base.rstrip("/"), level, SCREEN_TYPES, filters)


TokenSource = Callable[[], str | None]


class BulkExporter:
    """Runs one export into a folder."""

    def __init__(
        self,
        request: ExportRequest,
        token: TokenSource,
        limits: ExportLimits,
        allow_list: ServerAllowList,
        note: Callable[[str], None],
        session: requests.Session | None = None,
    ) -> None:
        if not allow_list.permits(request.base):
            raise CohortError("the FHIR server is not on CDS_FHIR_SERVER_ALLOWLIST")
        self.request, self.token, self.limits, self.note = request, token, limits, note
        self.session = session or cookieless_session()

    def _headers(self, url: str, accept: str, with_token: bool = True) -> dict[str, str]:
        headers = {"Accept": accept}
        token = self.token() if with_token and same_server(self.request.base, url) else None
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return headers

    def _get(self, url: str, **options: Any) -> requests.Response:
        try:
            return self.session.get(
                url,
                timeout=(self.limits.connect_timeout_s, self.limits.read_timeout_s),
                allow_redirects=False,
                **options,
            )
        except requests.RequestException as exc:
            raise CohortError(f"FHIR server unreachable during the export ({type(exc).__name__})") from exc

    def kick_off(self) -> str:
        """Start the export; the status URL (``Content-Location`` of the 202)."""
        params = {"_type": ",".join(self.request.types), "_typeFilter": ",".join(self.request.type_filters)}
        url = self.request.kickoff_url()
        headers = {**self._headers(url, FHIR_JSON), "Prefer": "respond-async"}
        rsp = self._get(url, params=params, headers=headers)
        location = rsp.headers.get("Content-Location")
        if rsp.status_code != 202 or not location:
            raise CohortError(f"$export kick-off answered {rsp.status_code} ({_outcome_text(rsp)})")
        if not same_server(self.request.base, location):
            raise CohortError("$export status URL points outside the FHIR server")
        return location

    def wait(self, status_url: str) -> dict[str, Any]:
        """Poll until the manifest (honouring Retry-After, showing X-Progress); the manifest."""
        deadline = time.monotonic() + self.limits.max_wait_s
        while True:
            rsp = self._get(status_url, headers=self._headers(status_url, FHIR_JSON))
            if rsp.status_code == 200:
                manifest: dict[str, Any] = _json(rsp, self.limits.max_json_bytes)
                return manifest
            if rsp.status_code != 202:
                raise CohortError(f"$export status answered {rsp.status_code} ({_outcome_text(rsp)})")
            self.note(f"export in progress: {rsp.headers.get('X-Progress', 'no progress reported')}")
            pause = retry_after(rsp.headers.get("Retry-After"))
            if time.monotonic() + pause > deadline:
                raise CohortError("$export did not finish in time")
            time.sleep(pause)

    def cancel(self, status_url: str) -> None:
        """Ask the server to stop the job and delete its files."""
        try:
            self.session.delete(status_url, headers=self._headers(status_url, FHIR_JSON), timeout=5)
        except requests.RequestException:
            self.note("could not cancel the export on the server")

    def download(self, manifest: Mapping[str, Any], folder: Path) -> None:
        """Every output and error file of the manifest into ``folder``; the manifest itself last."""
        needs_token = bool(manifest.get("requiresAccessToken"))
        outputs = [item for item in manifest.get("output") or [] if isinstance(item, dict)]
        errors = [item for item in manifest.get("error") or [] if isinstance(item, dict)]
        for index, item in enumerate(outputs):
            name = f"{item.get('type', 'Resource')}.{index:03d}.ndjson"
            self._file(str(item.get("url")), folder / name, needs_token)
        (folder / ERRORS_FOLDER).mkdir(exist_ok=True)
        for index, item in enumerate(errors):
            self._file(str(item.get("url")), folder / ERRORS_FOLDER / f"error.{index:03d}.ndjson", needs_token)
        self.note(f"downloaded {len(outputs)} files and {len(errors)} error files")
        kept = {**manifest, "output": [{**o, "url": f"{o.get('type')}.{i:03d}.ndjson"} for i, o in enumerate(outputs)]}
        temporary = folder / f".{MANIFEST_NAME}.tmp"
        temporary.write_bytes(orjson.dumps(kept, option=orjson.OPT_INDENT_2))
        os.replace(temporary, folder / MANIFEST_NAME)

    def _file(self, url: str, target: Path, needs_token: bool) -> None:
        if target.is_file():
            return  # downloaded by an earlier, interrupted run
        if needs_token and not same_server(self.request.base, url):
            raise CohortError("an export file that needs the access token is not on the FHIR server")
        rsp = self._get(url, headers=self._headers(url, NDJSON, with_token=needs_token), stream=True)
        if rsp.status_code != 200:
            raise CohortError(f"export file answered {rsp.status_code}")
        temporary = target.with_name(f".{target.name}.tmp")
        size = 0
        with rsp, temporary.open("wb") as handle:
            for chunk in rsp.iter_content(1 << 20):
                size += len(chunk)
                if size > self.limits.max_file_bytes:
                    raise CohortError("an export file is larger than the configured limit")
                handle.write(chunk)
        os.replace(temporary, target)

    def run(self, folder: Path) -> None:
        """Kick off, wait, download; Ctrl-C (or any failure after kick-off) cancels the job on the server."""
        folder.mkdir(parents=True, exist_ok=True)
        status_url = self.kick_off()
        self.note("export started")
        try:
            self.download(self.wait(status_url), folder)
        except BaseException:
            self.cancel(status_url)
            raise
        self.cancel(status_url)  # done: the server may delete the files (Bulk Data: DELETE after download)


def retry_after(value: str | None) -> float:
    """Seconds to wait: ``Retry-After`` as seconds or an HTTP date, within 0.1-60 s; 2 s when absent."""
    if not value:
        return DEFAULT_RETRY_S
    try:
        seconds = float(value)
    except ValueError:
        when = email.utils.parsedate_to_datetime(value) if email.utils.parsedate_tz(value) else None
        seconds = (when.timestamp() - time.time()) if when else DEFAULT_RETRY_S
    return min(MAX_RETRY_S, max(0.1, seconds))


def _json(rsp: requests.Response, limit: int) -> dict[str, Any]:
    if len(rsp.content) > limit:
        raise CohortError("$export manifest larger than the configured limit")
    try:
        document = orjson.loads(rsp.content)
    except orjson.JSONDecodeError as exc:
        raise CohortError("$export manifest is not JSON") from exc
    if not isinstance(document, dict):
        raise CohortError("$export manifest is not a JSON object")
    return document


def _outcome_text(rsp: requests.Response) -> str:
    """The first issue's text of an OperationOutcome answer, else the content type (never a token or header)."""
    try:
        issue = (orjson.loads(rsp.content[:65536]).get("issue") or [{}])[0]
        return str(issue.get("details", {}).get("text") or issue.get("diagnostics") or issue.get("code"))[:200]
    except (orjson.JSONDecodeError, AttributeError, IndexError, TypeError):
        return rsp.headers.get("Content-Type", "no body")
