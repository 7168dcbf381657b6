"""conformance_py: the prompts and the asking tools the official MCP conformance suite uses, as one
Python 0.2 component: each returns what its scenario checks for (the same as the Rust fixtures
did). The suite's other fixtures are `tests/plugins/conformance_tools` and `conformance_served`
(Rust) and `tests/js_plugins/conformance_js` (JavaScript).

- prompts `test_simple_prompt`, `test_prompt_with_arguments`, `test_prompt_with_embedded_resource`,
  `test_prompt_with_image`;
- tools `test_sampling` (asks the client's model), `test_elicitation`,
  `test_elicitation_sep1034_defaults` and `test_elicitation_sep1330_enums` (ask the user), each
  answering with one text, also its structured result `{"text": ...}`.

The tools take their arguments as one dict with the schema written out, as the Rust ones do
(extra arguments are not refused).

Build: sdk/python/build.sh tests/py_plugins/conformance_py target/polyglot/conformance_py.wasm
"""

import json
from typing import Annotated

from toolhost import Field, embedded_text, image, prompt, tool, user

PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4"
    "890000000d49444154789c63000100000500010d0a2db40000000049454e44ae426082"
)
"""A 1x1 transparent PNG."""

# ---------------------------------------------------------------------------------------------
# Prompts


@prompt(name="test_simple_prompt")
def simple_prompt(ctx):
    """A simple prompt without arguments."""
    return [user("This is a simple prompt for testing.")]


@prompt(name="test_prompt_with_arguments")
def prompt_with_arguments(ctx, *, arg1: Annotated[str, Field(description="First test argument")],
                          arg2: Annotated[str, Field(description="Second test argument")]):
    """A prompt with two arguments."""
    return [user(f"Prompt with arguments: arg1='{arg1}', arg2='{arg2}'")]


RESOURCE_URI = Annotated[str, Field(description="The URI of the resource to embed")]


@prompt(name="test_prompt_with_embedded_resource")
def prompt_with_embedded_resource(ctx, *, resourceUri: RESOURCE_URI):  # the suite's camelCase name
    """A prompt that embeds a resource."""
    return [
        user(embedded_text(resourceUri, "Embedded resource content for testing.", "text/plain")),
        user("Please process the embedded resource above."),
    ]


@prompt(name="test_prompt_with_image")
def prompt_with_image(ctx):
    """A prompt with an image."""
    return [user(image(PNG, "image/png")), user("Please analyze the image above.")]


# ---------------------------------------------------------------------------------------------
# Tools that ask

NOTHING = {"type": "object"}
"""No arguments (any object is accepted)."""

ANSWER = {
    "type": "object",
    "description": "A text answer (also the structured result).",
    "properties": {"text": {"type": "string"}},
    "required": ["text"],
}


def _text(out):
    return out["text"]


@tool(
    name="test_sampling",
    read_only=True,
    input_schema={
        "type": "object",
        "properties": {
            "prompt": {"type": "string", "description": "The prompt to send to the client's model."},
        },
        "required": ["prompt"],
    },
    output_schema=ANSWER,
    render=_text,
)
def sampling(ctx, args):
    """Asks the client's model to complete a prompt."""
    result = ctx.sample({
        "messages": [{"role": "user", "content": {"type": "text", "text": args["prompt"]}}],
        "maxTokens": 100,
    })
    content = result.get("content")
    said = content.get("text") if isinstance(content, dict) else None
    return {"text": f"LLM response: {said if isinstance(said, str) else ''}"}


def _answered(prefix, answer):
    """The answer as the scenarios print it: its content as compact JSON with sorted keys."""
    content = json.dumps(answer.content, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    return {"text": f"{prefix}: action={answer.action}, content={content}"}


@tool(
    name="test_elicitation",
    read_only=True,
    input_schema={
        "type": "object",
        "properties": {"message": {"type": "string", "description": "The message to show the user."}},
        "required": ["message"],
    },
    output_schema=ANSWER,
    render=_text,
)
def elicitation(ctx, args):
    """Asks the user for a username and an e-mail address."""
    schema = {
        "type": "object",
        "properties": {
            "username": {"type": "string", "description": "User's response"},
            "email": {"type": "string", "description": "User's email address"},
        },
        "required": ["username", "email"],
    }
    return _answered("User response", ctx.elicit(args["message"], schema))


DEFAULTS = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "description": "User name", "default": "John Doe"},
        "age": {"type": "integer", "description": "User age", "default": 30},
        "score": {"type": "number", "description": "User score", "default": 95.5},
        "status": {
            "type": "string",
            "description": "User status",
            "enum": ["active", "inactive", "pending"],
            "default": "active",
        },
        "verified": {"type": "boolean", "description": "Verification status", "default": True},
    },
    "required": [],
}


@tool(name="test_elicitation_sep1034_defaults", read_only=True, input_schema=NOTHING,
      output_schema=ANSWER, render=_text)
def elicitation_defaults(ctx, args):
    """Asks the user for input with a default for every primitive type."""
    answer = ctx.elicit("Test client default value handling - please accept with defaults", DEFAULTS)
    return _answered("Elicitation completed", answer)


ENUMS = {
    "type": "object",
    "properties": {
        "untitledSingle": {
            "type": "string",
            "description": "Untitled single-select",
            "enum": ["option1", "option2", "option3"],
        },
        "titledSingle": {
            "type": "string",
            "description": "Titled single-select",
            "oneOf": [
                {"const": "value1", "title": "First Option"},
                {"const": "value2", "title": "Second Option"},
                {"const": "value3", "title": "Third Option"},
            ],
        },
        "legacyEnum": {
            "type": "string",
            "description": "Legacy titled enum",
            "enum": ["opt1", "opt2", "opt3"],
            "enumNames": ["Option One", "Option Two", "Option Three"],
        },
        "untitledMulti": {
            "type": "array",
            "description": "Untitled multi-select",
            "items": {"type": "string", "enum": ["option1", "option2", "option3"]},
        },
        "titledMulti": {
            "type": "array",
            "description": "Titled multi-select",
            "items": {
                "anyOf": [
                    {"const": "value1", "title": "First Choice"},
                    {"const": "value2", "title": "Second Choice"},
                    {"const": "value3", "title": "Third Choice"},
                ]
            },
        },
    },
    "required": [],
}


@tool(name="test_elicitation_sep1330_enums", read_only=True, input_schema=NOTHING,
      output_schema=ANSWER, render=_text)
def elicitation_enums(ctx, args):
    """Asks the user to choose, in every enum form."""
    return _answered("Elicitation completed", ctx.elicit("Test enum schema variants", ENUMS))
