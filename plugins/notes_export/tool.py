"""notes_export: the caller's newest notes as one Markdown document.

Build: sdk/python/build.sh plugins/notes_export target/polyglot/notes_export.wasm
"""

from itertools import islice

from toolhost import tool

LIMIT = {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100,
         "description": "How many of the newest notes to export."}


@tool(
    name="notes_export",
    title="Export notes as Markdown",
    description="Export the caller's newest notes (`limit` of them, default 100) as one Markdown "
    "document, newest first: a section per note with its title, creation time and text.",
    roles=["member"],
    input_schema={"type": "object", "properties": {"limit": LIMIT}, "additionalProperties": False},
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
def notes_export(ctx, args):
    limit = args.get("limit", 100)
    scan = ctx.bucket("notes").scan_all("note:", reverse=True, page_size=limit)
    parts = ["# Notes\n"]
    for note in (entry.json() for entry in islice(scan, limit)):
        title = " ".join(note["title"].split())  # one line, whatever the title holds
        parts.append(f"## {title}\n\n_Created {note['createdAt']}_\n\n{note['body'].strip()}\n")
    count = len(parts) - 1
    return {"markdown": "\n".join(parts if count else ["# Notes\n", "No notes.\n"]), "count": count}
