"""py_served: the 0.2 surface of the Python kit in one component, for the tests.

- tool `py_clip` (schema from its type hints): audio, a resource link and a structured result;
- tool `py_confirm`: asks the user to confirm (elicitation) and says what they answered, with
  the operator's `greeting` (`[tools.py_confirm.config]`), also in a log message for the client;
- resource `pyserved://logo`: a fixed blob;
- template `pynotes://{id}`: the caller's note `id` as Markdown, from what notes_create wrote
  (bucket `notes`, key `note:<id>`);
- prompt `py_review` (arguments from its keyword parameters).

Build: sdk/python/build.sh tests/py_plugins/py_served target/polyglot/py_served.wasm
"""

from typing import Annotated, Literal, Optional

from toolhost import (Field, PromptResult, ToolError, ToolResult, assistant, audio, blob_contents,
                      prompt, resource, resource_link, text, text_contents, tool, user)

LOGO = bytes.fromhex("89504e470d0a1a0a0000000d49484452")
"""The start of a PNG: what the logo resource holds."""


@tool(name="py_clip", title="Say a word", read_only=True, open_world=False)
def py_clip(
    ctx,
    *,
    word: Annotated[str, Field(description="The word to say.", min_length=1, max_length=32)],
    times: Annotated[int, Field(minimum=1, maximum=3)] = 1,
    voice: Literal["low", "high"] = "low",
    tags: Optional[list[str]] = None,
):
    """Say `word` `times` times as an audio clip, with a link to the logo."""
    clip = b"RIFF" + (word.encode() * times)
    return ToolResult(
        content=[
            text(f"{word} x{times} in a {voice} voice"),
            audio(clip, "audio/wav"),
            resource_link("pyserved://logo", "logo", title="The logo", mime_type="image/png"),
        ],
        structured={"word": word, "times": times, "voice": voice, "tags": tags or [],
                    "bytes": len(clip)},
    )


CONFIRM = {
    "type": "object",
    "properties": {"confirm": {"type": "boolean", "title": "Go ahead", "default": False}},
    "required": ["confirm"],
}


@tool(name="py_confirm", destructive=False, open_world=False)
def py_confirm(ctx, *, action: Annotated[str, Field(min_length=1, max_length=100)]):
    """Ask the user to confirm `action` and say what they answered; a confirmed action tells the
    subscribers of `pyserved://logo` that it changed."""
    greeting = ctx.config("greeting")
    answer = ctx.elicit(f"{greeting or 'Hello'}! Go ahead with {action}?", CONFIRM)
    confirmed = answer.accepted and answer.content.get("confirm") is True
    ctx.notify_client("info", {"action": action, "answer": answer.action}, logger="py_confirm")
    if confirmed:
        ctx.resource_updated("pyserved://logo")  # the action changes the logo, say its subscribers
    return {"action": answer.action, "confirmed": confirmed, "greeting": greeting}


@py_confirm.render
def said(out):
    return f"{out['greeting'] or 'Hello'}: the user answered {out['action']} (confirmed: {out['confirmed']})"


@resource(uri="pyserved://logo", name="logo", title="The logo", mime_type="image/png")
def logo(ctx, request):
    """A small PNG."""
    return blob_contents(request.uri, LOGO, "image/png")


@resource(uri_template="pynotes://{id}", name="py-note", mime_type="text/markdown")
def note(ctx, request):
    """One of the caller's notes as Markdown, by id."""
    found = ctx.bucket("notes").get_json(f"note:{request.vars['id']}")
    if found is None:
        raise ToolError("not-found", f"no note with id {request.vars['id']!r}")
    return text_contents(request.uri, f"# {found['title']}\n\n{found['body']}\n")


@prompt(name="py_review", title="Review a topic")
def py_review(ctx, *, topic: Annotated[str, Field(description="What to review.")],
              tone: Optional[str] = None):
    """Ask for a review of a topic, in a tone."""
    how = f" in a {tone} tone" if tone else ""
    return PromptResult(
        [user(f"Review my notes about {topic}{how}."), assistant(text("Which notes first?"))],
        description=f"A review of {topic}",
    )
