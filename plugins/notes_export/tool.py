"""notes_export: the caller's newest notes as one Markdown document.

Build: sdk/python/build.sh plugins/notes_export target/polyglot/notes_export.wasm
"""

from itertools import islice
from typing import Annotated

from toolhost import Field, tool

REPORTS = 20
"""At most this many progress reports per export (one every 5 %), and none for an export of
this many notes or fewer: the host passes on at most 100 per call."""


@tool(
    name="notes_export",
    title="Export notes as Markdown",
    roles=["member"],
    read_only=True,
    idempotent=True,
    open_world=False,
    output_schema={
        "type": "object",
        "properties": {
            "markdown": {"type": "string", "description": "The notes as Markdown, newest first."},
            "count": {"type": "integer", "description": "How many notes were exported."},
        },
        "required": ["markdown", "count"],
    },
    render=lambda out: out["markdown"],
)
def notes_export(
    ctx,
    *,
    limit: Annotated[int, Field(minimum=1, maximum=1000,
                                description="How many of the newest notes to export.")] = 100,
):
    """Export the caller's newest notes (`limit` of them, default 100) as one Markdown document,
    newest first: a section per note with its title, creation time and text."""
    scan = ctx.bucket("notes").scan_all("note:", reverse=True, page_size=limit)
    entries = list(islice(scan, limit))
    total = len(entries)
    step = -(-total // REPORTS) if total > REPORTS else 0  # ceil(total / REPORTS)
    parts = ["# Notes\n"]
    for done, entry in enumerate(entries, start=1):
        note = entry.json()
        title = " ".join(note["title"].split())  # one line, whatever the title holds
        parts.append(f"## {title}\n\n_Created {note['createdAt']}_\n\n{note['body'].strip()}\n")
        if step and (done % step == 0 or done == total):
            ctx.report_progress(done, total, f"{done} of {total} notes")
    return {"markdown": "\n".join(parts if total else ["# Notes\n", "No notes.\n"]), "count": total}
