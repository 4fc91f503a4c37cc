"""What the user pointed at: a file, a folder of files, or a query against a database URL.

The format of a file comes from the mapping (`source.format`) or else its extension:
`.csv` (delimiter sniffed from the header), `.tsv`/`.tab`, `.parquet`/`.pq`,
`.jsonl`/`.ndjson`/`.json` (JSON Lines), and `.txt`/`.dat`, which are sniffed: a tab or comma
in the first line means delimited, otherwise whitespace-separated (CDNOW style). A trailing
`.gz` is read compressed. A folder is every such file in it and below (hidden files skipped),
in name order, or those matching `source.pattern`.
"""

from __future__ import annotations

from pathlib import Path

from cvm.core.errors import UserInputError
from cvm.engine.sources import (
    SUPPORTED_ENCODINGS,
    FileFormat,
    FileSource,
    QuerySource,
    Source,
    TextOptions,
    normalize_encoding,
)
from cvm.engine.text_lines import read_first_line
from cvm.ingest.mapping import SourceOptions

EXTENSIONS: dict[str, str] = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
    ".txt": "text",
    ".dat": "text",
}


def _extension(path: Path) -> str:
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    return suffixes[-1] if suffixes else ""


def text_options(options: SourceOptions, *, delimiter: str | None = None) -> TextOptions:
    encoding = normalize_encoding(options.encoding)
    if encoding is None:
        raise UserInputError(
            f"encoding {options.encoding!r} is not supported; use one of "
            f"{', '.join(SUPPORTED_ENCODINGS)} (or convert the file first, e.g. with iconv)"
        )
    return TextOptions(
        delimiter=options.delimiter or delimiter,
        header=options.header if options.columns is None else False,
        names=tuple(options.columns) if options.columns else None,
        quote=options.quote,
        escape=options.escape,
        encoding=encoding,
        skip_rows=options.skip_rows,
    )


def file_source(path: Path, options: SourceOptions) -> FileSource:
    """One file, with its format decided."""
    kind = options.format or EXTENSIONS.get(_extension(path))
    text = text_options(options)
    if kind is None:
        raise UserInputError(
            f"cannot tell the format of {path} from its extension; set source.format in the "
            "mapping (csv, tsv, whitespace, parquet or jsonl)"
        )
    if kind == "text":
        first = read_first_line(path, encoding=text.encoding, skip_rows=options.skip_rows)
        kind = "tsv" if "\t" in first else "csv" if ("," in first or ";" in first) else "whitespace"
    if kind == "tsv":
        return FileSource(path, "csv", text_options(options, delimiter="\t"))
    fmt: FileFormat = kind  # type: ignore[assignment]
    return FileSource(path, fmt, text)


def _folder_files(folder: Path, pattern: str | None) -> list[Path]:
    candidates = folder.rglob(pattern) if pattern else folder.rglob("*")
    files = [
        p
        for p in candidates
        if p.is_file()
        and not any(part.startswith(".") for part in p.relative_to(folder).parts)
        and (pattern is not None or _extension(p) in EXTENSIONS)
    ]
    return sorted(files)


def resolve_sources(
    path: Path | None, options: SourceOptions, *, query: str | None = None, url: str | None = None
) -> list[Source]:
    """The sources of one ingestion run, or a one-sentence error."""
    if query is not None or url is not None:
        if path is not None:
            raise UserInputError("give either a SOURCE file/folder or --query with --url, not both")
        if not query or not url:
            raise UserInputError("a database source needs both --query and --url")
        return [QuerySource(url=url, query=query)]
    if path is None:
        raise UserInputError("give a SOURCE file or folder, or --query with --url")
    if path.is_dir():
        files = _folder_files(path, options.pattern)
        if not files:
            wanted = options.pattern or ", ".join(sorted(EXTENSIONS))
            raise UserInputError(f"folder {path} holds no files to ingest ({wanted})")
        return [file_source(f, options) for f in files]
    if not path.exists():
        raise UserInputError(f"{path} does not exist")
    return [file_source(path, options)]
