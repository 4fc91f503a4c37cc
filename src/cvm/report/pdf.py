"""`cvm report --pdf`: print the self-contained HTML report to PDF with headless Chromium.

The same HTML is printed, so the PDF shows what the browser shows: the executive summary on
page one (the template's print stylesheet breaks after it), then the sections. Chromium runs
with a throwaway profile and with network, sync and update traffic off, so printing works
offline and leaves nothing behind. ``--virtual-time-budget`` lets the inline plotly charts
finish drawing before the page is printed.

Chromium is found at ``$CVM_CHROMIUM``, ``/usr/bin/chromium`` or on the PATH (Debian's package
``chromium``; `make system-deps` installs it in CI).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

from cvm.core.errors import UserInputError

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
PRINT_FLAGS = (
    "--no-pdf-header-footer",
    "--virtual-time-budget=20000",
    "--run-all-compositor-stages-before-draw",
)


def default_candidates() -> list[str | None]:
    names = ("chromium", "chromium-browser", "google-chrome")
    return [os.environ.get("CVM_CHROMIUM"), "/usr/bin/chromium", *(shutil.which(n) for n in names)]


def find_chromium(candidates: Sequence[str | None] | None = None) -> Path:
    """The Chromium executable, or a clear error saying how to install it."""
    candidates = default_candidates() if candidates is None else candidates
    for candidate in candidates:
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return Path(candidate)
    raise UserInputError(
        "PDF output needs Chromium, which was not found (looked at $CVM_CHROMIUM, "
        "/usr/bin/chromium and the PATH); install it with `apt-get install chromium` "
        "(or `make system-deps`), or open the HTML report and print it from a browser"
    )


def chromium_command(chromium: Path, profile: Path, html: Path, pdf: Path) -> list[str]:
    return [
        str(chromium),
        *FLAGS,
        f"--user-data-dir={profile}",
        *PRINT_FLAGS,
        f"--print-to-pdf={pdf}",
        html.resolve().as_uri(),
    ]


def render_pdf(
    html: Path, out: Path | None = None, *, timeout: float = 180.0, chromium: Path | None = None
) -> Path:
    """Print ``html`` to ``out`` (default: the same name with ``.pdf``) and return its path."""
    if not html.is_file():
        raise UserInputError(f"{html}: no such report file")
    chromium = chromium or find_chromium()
    pdf = (out or html.with_suffix(".pdf")).resolve()
    pdf.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory(prefix="cvm-chromium-") as profile:
        try:
            done = subprocess.run(  # noqa: S603 (fixed executable and flags, our own file URI)
                chromium_command(chromium, Path(profile), html, pdf),
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise UserInputError(
                f"Chromium did not finish printing {html.name} within {timeout:.0f} s"
            ) from None
    if not pdf.is_file() or pdf.stat().st_size == 0 or pdf.read_bytes()[:4] != b"%PDF":
        detail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        raise UserInputError(
            f"Chromium could not print {html.name} to PDF (exit {done.returncode}): "
            + " | ".join(detail)
        )
    return pdf
