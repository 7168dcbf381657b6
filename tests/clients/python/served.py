"""What a component serves besides tools, seen by the official `mcp` Python client.

    served.py --url URL [--token T] [--mode auto|legacy|2026-07-28]

Connects (see common.py), lists the tools with their annotations, creates a
note with notes_create, lists the resource templates, reads the note as the
resource notes://{id}, lists the prompts and gets summarise_notes, and prints
one JSON object:
    {"protocol_version", "annotations": {tool: {hint: value}}, "templates": [uriTemplate],
     "resource": {"uri", "mimeType", "text"}, "prompts": {name: [argument names]},
     "prompt": [message texts]}
Exit codes: see common.py.
"""

import argparse

import common


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    common.add_http_args(parser)
    args = parser.parse_args()

    async def session() -> None:
        async with common.connect_http(args) as client:
            tools = await client.list_tools()
            annotations = {
                t.name: (t.annotations.model_dump(by_alias=True, exclude_none=True) if t.annotations else {})
                for t in tools.tools
            }
            created = await client.call_tool("notes_create", {"title": "From Python", "body": "as a resource"})
            note_id = created.structured_content["id"]
            templates = await client.list_resource_templates()
            read = await client.read_resource(f"notes://{note_id}")
            contents = read.contents[0]
            prompts = await client.list_prompts()
            prompt = await client.get_prompt("summarise_notes", {})
            common.print_json(
                {
                    "protocol_version": client.protocol_version,
                    "annotations": annotations,
                    "templates": sorted(t.uri_template for t in templates.resource_templates),
                    "resource": {"uri": str(contents.uri), "mimeType": contents.mime_type, "text": contents.text},
                    "prompts": {p.name: [a.name for a in (p.arguments or [])] for p in prompts.prompts},
                    "prompt": [m.content.text for m in prompt.messages],
                }
            )

    common.run(session)


if __name__ == "__main__":
    main()
