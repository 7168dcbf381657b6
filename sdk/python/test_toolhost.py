"""Unit tests of the Python kit, outside a component (no bindings, no host):

    cd sdk/python && python3 -m unittest
"""

import json
import unittest
from types import SimpleNamespace
from typing import Annotated, List, Literal, Optional

import toolhost
from toolhost import (AskError, Content, Contents, Elicitation, Field, Message, PromptResult,
                      ResourceRequest, ToolError, ToolResult, assistant, audio, blob_contents,
                      embedded_blob, embedded_text, image, mcp, prompt, resource, resource_link,
                      text, text_contents, tool, user)


def context(subject="alice", roles=("member",)):
    """A Context as the component builds it, from a call-context record."""
    principal = SimpleNamespace(subject=subject, roles=list(roles), scopes=[], client_id=None,
                                org_id=None, email=None)
    return toolhost.Context(SimpleNamespace(principal=principal, request_id="req-1"))


def schema(t):
    return json.loads(t.input_schema)


class Registered(unittest.TestCase):
    """Each test starts with nothing registered."""

    def setUp(self):
        toolhost._REGISTRY.clear()

    tearDown = setUp


class ToolNames(Registered):
    def test_the_kit_accepts_exactly_the_hosts_ascii_names(self):
        good = ["notes_list", "a", "a1_", "a" * 64]
        bad = ["", "Notes", "1abc", "_a", "a-b", "a b", "a\n", "é", "aé", "aß", "a²", "a\u0663",
               "\uff41", "a\u0301", "a" * 65, 3]
        for name in good:
            toolhost.Tool(lambda c, a: {}, name=name, description="d")
        for name in bad:
            with self.assertRaises(ValueError, msg=repr(name)) as e:
                toolhost.Tool(lambda c, a: {}, name=name, description="d")
            self.assertIn(repr(name), str(e.exception))

    def test_prompts_follow_the_same_rule(self):
        with self.assertRaises(ValueError):
            toolhost.Prompt(lambda c, a: [], name="résumé", description="d")

    def test_the_name_defaults_to_the_functions(self):
        @tool(description="d")
        def count_things(ctx, *, n: int = 1):
            return {}

        self.assertEqual(count_things.name, "count_things")


class InferredSchemas(Registered):
    def test_keyword_parameters_make_the_input_schema(self):
        @tool(name="search")
        def search(ctx, *, limit: int = 100, query: str, tags: list[str] | None = None,
                   mode: Literal["a", "b"] = "a", ratio: float = 0.5, exact: bool = False,
                   weights: dict[str, float] | None = None, old: Optional[List[int]] = None):
            """Search the notes.

            Longer text that is not the description."""
            return {}

        self.assertEqual(search.description, "Search the notes.")
        self.assertEqual(schema(search), {
            "type": "object",
            "properties": {
                "limit": {"type": "integer", "default": 100},
                "query": {"type": "string"},
                "tags": {"type": ["array", "null"], "items": {"type": "string"}, "default": None},
                "mode": {"type": "string", "enum": ["a", "b"], "default": "a"},
                "ratio": {"type": "number", "default": 0.5},
                "exact": {"type": "boolean", "default": False},
                "weights": {"type": ["object", "null"], "additionalProperties": {"type": "number"},
                            "default": None},
                "old": {"type": ["array", "null"], "items": {"type": "integer"}, "default": None},
            },
            "required": ["query"],
            "additionalProperties": False,
        })
        # The host validated the arguments; the function gets them as keywords, its defaults
        # filling in what was not given.
        self.assertEqual(search(context(), {"query": "x"}), {})

    def test_field_adds_constraints_that_fit_the_type(self):
        @tool(name="f", description="d")
        def f(ctx, *,
              n: Annotated[int, Field(description="How many", minimum=1, maximum=10)] = 5,
              s: Annotated[str, Field(title="S", min_length=1, max_length=9, pattern="^[a-z]+$")],
              items: Annotated[list[str], Field(min_length=1, max_length=3)],
              maybe: Optional[Annotated[int, Field(minimum=0)]] = None):
            return {}

        props = schema(f)["properties"]
        self.assertEqual(props["n"], {"type": "integer", "description": "How many", "minimum": 1,
                                      "maximum": 10, "default": 5})
        self.assertEqual(props["s"], {"type": "string", "title": "S", "minLength": 1, "maxLength": 9,
                                      "pattern": "^[a-z]+$"})
        self.assertEqual(props["items"], {"type": "array", "items": {"type": "string"},
                                          "minItems": 1, "maxItems": 3})
        self.assertEqual(props["maybe"], {"type": ["integer", "null"], "minimum": 0, "default": None})
        self.assertEqual(schema(f)["required"], ["s", "items"])

    def test_optional_literals_take_null(self):
        @tool(name="f", description="d")
        def f(ctx, *, mode: Literal["x", 2] | None = None):
            return {}

        self.assertEqual(schema(f)["properties"]["mode"],
                         {"type": ["integer", "string", "null"], "enum": ["x", 2, None], "default": None})

    def test_no_parameters_is_an_empty_object(self):
        @tool(name="f", description="d")
        def f(ctx):
            return {}

        self.assertEqual(schema(f), {"type": "object", "properties": {}, "additionalProperties": False})

    def test_unsupported_hints_name_the_parameter_and_the_hint(self):
        cases = {
            "set[int]": lambda: tool(name="f", description="d")(_fn("x: set[int]")),
            "int | str": lambda: tool(name="f", description="d")(_fn("x: int | str")),
            "keys must be str": lambda: tool(name="f", description="d")(_fn("x: dict[int, str]")),
            "has no type hint": lambda: tool(name="f", description="d")(_fn("x")),
            "Literal values": lambda: tool(name="f", description="d")(_fn("x: Literal[b'a']")),
            "Field(...)": lambda: tool(name="f", description="d")(_fn("x: Annotated[int, 'doc']")),
            "minimum applies to int and float": lambda: tool(name="f", description="d")(
                _fn("x: Annotated[str, Field(minimum=1)]")),
            "pattern applies to str": lambda: tool(name="f", description="d")(
                _fn("x: Annotated[int, Field(pattern='a')]")),
            "not a JSON value": lambda: tool(name="f", description="d")(_fn("x: int = object()")),
        }
        for words, define in cases.items():
            with self.assertRaises(TypeError, msg=words) as e:
                define()
            self.assertIn("parameter 'x'", str(e.exception))
            self.assertIn(words, str(e.exception))
        with self.assertRaises(TypeError) as e:
            tool(name="f", description="d")(_fn("**rest"))
        self.assertIn("'rest' is variadic", str(e.exception))

    def test_a_bad_field_is_refused_where_it_is_written(self):
        with self.assertRaises(TypeError):
            Field(min_length=-1)
        with self.assertRaises(TypeError):
            Field(pattern="(")
        with self.assertRaises(TypeError):
            Field(maximum="10")

    def test_the_dict_style_keeps_working(self):
        given = {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}

        @tool(name="hello", description="Greet", input_schema=given)
        def hello(ctx, args):
            return {"message": f"Hello {args['name']}, from {ctx.principal.subject}"}

        self.assertEqual(schema(hello), given)
        self.assertEqual(hello(context(), {"name": "Bob"}), {"message": "Hello Bob, from alice"})

    def test_an_explicit_schema_wins_for_keyword_parameters_too(self):
        @tool(name="f", description="d", input_schema={"type": "object"})
        def f(ctx, *, anything: int = 0):
            return {"anything": anything}

        self.assertEqual(schema(f), {"type": "object"})

    def test_a_description_is_needed(self):
        with self.assertRaises(ValueError) as e:
            tool(name="f")(lambda ctx: {})
        self.assertIn("needs a description", str(e.exception))

    def test_bad_signatures_are_refused(self):
        with self.assertRaises(TypeError) as e:
            tool(name="f", description="d")(lambda ctx, a, b: {})
        self.assertIn("takes (ctx, args)", str(e.exception))
        # Arguments before the '*' are a forgotten '*', not the dict of the old style.
        for params in ("limit: int = 100", "limit=100", "limit: str"):
            scope = {}
            exec(f"def f(ctx, {params}):\n    return {{}}\n", scope)
            with self.assertRaises(TypeError, msg=params) as e:
                tool(name="f", description="d")(scope["f"])
            self.assertIn("parameter 'limit' comes before '*'", str(e.exception))
        for params in ("args", "args: dict", "args: dict[str, object]"):
            scope = {}
            exec(f"def f(ctx, {params}):\n    return {{}}\n", scope)
            toolhost.Tool(scope["f"], name="f", description="d")
        with self.assertRaises(TypeError):
            tool(name="f", description="d")(lambda: {})


def _fn(params: str):
    """A function `f(ctx, *, <params>)` (or `f(ctx, <params>)` for **rest)."""
    star = "" if params.startswith("**") else "*, "
    scope = {"Annotated": Annotated, "Literal": Literal, "Field": Field}
    exec(f"def f(ctx, {star}{params}):\n    return {{}}\n", scope)
    return scope["f"]


class Descriptions(Registered):
    def test_annotations_from_a_dict_or_keywords(self):
        @tool(name="a", description="d", annotations=dict(read_only=True, open_world=False))
        def a(ctx):
            return {}

        @tool(name="b", description="d", destructive=True, idempotent=False)
        def b(ctx):
            return {}

        self.assertEqual(a.annotations, {"read_only": True, "destructive": None, "idempotent": None,
                                         "open_world": False})
        self.assertEqual(b.annotations, {"read_only": None, "destructive": True, "idempotent": False,
                                         "open_world": None})
        with self.assertRaises(TypeError) as e:
            tool(name="c", description="d", annotations={"readOnly": True})(lambda ctx: {})
        self.assertIn("'readOnly'", str(e.exception))
        with self.assertRaises(TypeError) as e:
            tool(name="c", description="d", annotations={"read_only": True}, read_only=False)(lambda ctx: {})
        self.assertIn("given twice", str(e.exception))
        with self.assertRaises(TypeError):
            tool(name="c", description="d", read_only="yes")(lambda ctx: {})

    def test_apis_go_into_the_extensions(self):
        @tool(name="f", description="d", apis=["app", "billing_v2"])
        def f(ctx):
            return {}

        self.assertEqual(f.extensions, [("apis", '["app","billing_v2"]')])
        with self.assertRaises(ValueError):
            tool(name="g", description="d", apis=["App"])(lambda ctx: {})
        with self.assertRaises(ValueError):
            tool(name="g", description="d", apis="app")(lambda ctx: {})

    def test_duplicate_names_are_refused_naming_the_duplicate(self):
        @tool(name="twice", description="d")
        def one(ctx):
            return {}

        with self.assertRaises(ValueError) as e:
            @tool(name="twice", description="d")
            def two(ctx):
                return {}
        self.assertIn("'twice' is defined twice", str(e.exception))

        @resource(uri="x://a")
        def a(ctx, request):
            """A."""
            return text_contents(request.uri, "a")

        with self.assertRaises(ValueError) as e:
            resource(uri="x://a", name="again")(a.fn)
        self.assertIn("'x://a' is defined twice", str(e.exception))

        @prompt(name="p", description="d")
        def p(ctx, args):
            return [user("hi")]

        with self.assertRaises(ValueError) as e:
            prompt(name="p", description="d")(p.fn)
        self.assertIn("'p' is defined twice", str(e.exception))

    def test_nothing_registered_fails_the_build(self):
        with self.assertRaises(RuntimeError):
            toolhost._check_registered()
        tool(name="f", description="d")(lambda ctx: {})
        toolhost._check_registered()

    def test_roles_are_a_list_of_names(self):
        with self.assertRaises(TypeError):
            tool(name="f", description="d", roles="member")(lambda ctx: {})


class Results(Registered):
    def test_a_dict_is_the_structured_result_rendered_as_text(self):
        @tool(name="f", description="d")
        def f(ctx, *, n: int = 2):
            return {"n": n}

        self.assertEqual(f.run(context(), {}), ([text('{"n":2}')], '{"n":2}'))

        @f.render
        def words(out):
            return f"n is {out['n']}"

        self.assertEqual(f.run(context(), {"n": 3}), ([text("n is 3")], '{"n":3}'))

    def test_a_tool_result_carries_its_content_kinds(self):
        blocks = [
            "plain",
            image(b"\x89PNG", "image/png"),
            audio(b"RIFF", "audio/wav"),
            resource_link("notes://1", "note-1", title="Note 1", mime_type="text/markdown"),
            embedded_text("notes://2", "the second note", "text/plain"),
            embedded_blob("notes://3", b"\x00\x01", "application/octet-stream"),
            mcp({"type": "text", "text": "from JSON"}),
        ]

        @tool(name="f", description="d")
        def f(ctx):
            return ToolResult(blocks, structured={"ok": True})

        content, structured = f.run(context(), {})
        self.assertEqual(structured, '{"ok":true}')
        self.assertEqual([c.kind for c in content],
                         ["text", "image", "audio", "resource_link", "embedded", "embedded", "mcp"])
        self.assertEqual(content[0], text("plain"))
        self.assertEqual(content[3].fields, {"uri": "notes://1", "name": "note-1", "title": "Note 1",
                                             "description": None, "mime_type": "text/markdown"})
        self.assertEqual(content[6].fields, {"json": '{"type":"text","text":"from JSON"}'})

        content, structured = tool(name="g", description="d")(
            lambda ctx: ToolResult(text("only text"))).run(context(), {})
        self.assertEqual((content, structured), ([text("only text")], None))

    def test_anything_else_fails_the_call(self):
        f = tool(name="f", description="d")(lambda ctx: [1])
        with self.assertRaises(ToolError) as e:
            f.run(context(), {})
        self.assertEqual(e.exception.kind, "failed")
        self.assertIn("list", e.exception.message)

    def test_content_helpers_check_what_they_are_given(self):
        with self.assertRaises(TypeError):
            image("not bytes", "image/png")
        with self.assertRaises(TypeError):
            audio(b"x", "")
        with self.assertRaises(TypeError):
            mcp({"text": "no type"})
        with self.assertRaises(TypeError):
            resource_link("x://1", "")
        with self.assertRaises(TypeError):
            ToolResult()
        with self.assertRaises(TypeError):
            ToolResult([1])
        with self.assertRaises(TypeError):
            ToolResult(structured=[1])


class Resources(Registered):
    def test_fixed_and_template_resources(self):
        @resource(uri="app://logo", name="logo", mime_type="image/png", roles=["member"])
        def logo(ctx, request):
            """The logo."""
            return blob_contents(request.uri, b"\x89PNG", "image/png")

        @resource(uri_template="notes://{id}", name="note", mime_type="text/markdown")
        def note(ctx, request):
            if request.vars["id"] != "1":
                raise ToolError("not-found", f"no note with id {request.vars['id']!r}")
            return [text_contents(request.uri, "# one"), text_contents(request.uri, "more", "text/plain")]

        self.assertEqual((logo.template, logo.description, logo.roles), (False, "The logo.", ["member"]))
        self.assertTrue(note.template)
        self.assertEqual(logo.read(context(), ResourceRequest("app://logo")),
                         [Contents("app://logo", b"\x89PNG", "image/png")])
        parts = note.read(context(), ResourceRequest("notes://1", "notes://{id}", {"id": "1"}))
        self.assertEqual(parts, [Contents("notes://1", "# one"), Contents("notes://1", "more", "text/plain")])
        with self.assertRaises(ToolError) as e:
            note.read(context(), ResourceRequest("notes://2", "notes://{id}", {"id": "2"}))
        self.assertEqual(e.exception.kind, "not-found")

    def test_a_resource_needs_one_absolute_uri_or_template(self):
        read = lambda ctx, request: text_contents(request.uri, "x")  # noqa: E731
        for given in ({}, {"uri": "a://x", "uri_template": "a://{x}"}):
            with self.assertRaises(TypeError):
                resource(name="r", **given)(read)
        with self.assertRaises(ValueError):
            resource(uri="relative/path", name="r")(read)
        with self.assertRaises(ValueError):
            resource(uri_template="a://fixed", name="r")(read)
        with self.assertRaises(TypeError):
            resource(uri="a://x", name="r")(lambda ctx, *, id: None)

    def test_a_read_must_return_contents(self):
        r = resource(uri="a://x", name="r")(lambda ctx, request: "text")
        with self.assertRaises(ToolError):
            r.read(context(), ResourceRequest("a://x"))
        r = resource(uri="a://y", name="r")(lambda ctx, request: [])
        with self.assertRaises(ToolError):
            r.read(context(), ResourceRequest("a://y"))
        with self.assertRaises(TypeError):
            blob_contents("a://x", b"x", None)


class Prompts(Registered):
    def test_arguments_from_keyword_parameters(self):
        @prompt(name="review", title="Review")
        def review(ctx, *, topic: Annotated[str, Field(description="What to review")],
                   tone: Optional[str] = None, style: str = "short"):
            """Review a topic.

            More words."""
            return [user(f"Review {topic} ({tone}, {style})"), assistant(text("Sure."))]

        self.assertEqual(review.description, "Review a topic.")
        self.assertEqual(review.arguments, [
            {"name": "topic", "title": None, "description": "What to review", "required": True},
            {"name": "tone", "title": None, "description": None, "required": False},
            {"name": "style", "title": None, "description": None, "required": False},
        ])
        got = review.get(context(), {"topic": "tax"})
        self.assertEqual(got.messages, [Message("user", text("Review tax (None, short)")),
                                        Message("assistant", text("Sure."))])
        self.assertIsNone(got.description)

    def test_only_str_arguments(self):
        for params in ("n: int", "s: Annotated[str, Field(min_length=1)]", "s"):
            with self.assertRaises(TypeError) as e:
                prompt(name="p", description="d")(_fn(params))
            self.assertIn("parameter", str(e.exception))

    def test_declared_arguments_for_the_dict_style(self):
        @prompt(name="p", description="d", arguments=[{"name": "topic", "required": True},
                                                       {"name": "tone", "description": "How"}])
        def p(ctx, args):
            return PromptResult([user(args["topic"])], description="about " + args["topic"])

        self.assertEqual([a["required"] for a in p.arguments], [True, False])
        got = p.get(context(), {"topic": "tax"})
        self.assertEqual((got.description, got.messages), ("about tax", [user("tax")]))
        with self.assertRaises(TypeError):
            prompt(name="q", description="d", arguments=[{"name": "x", "kind": "str"}])(p.fn)
        with self.assertRaises(ValueError):
            prompt(name="q", description="d", arguments=[{"name": "x"}, {"name": "x"}])(p.fn)
        with self.assertRaises(ValueError):
            prompt(name="q", description="d", arguments=[{"name": "a b"}])(p.fn)

    def test_a_get_must_return_messages(self):
        p = prompt(name="p", description="d")(lambda ctx: "hi")
        with self.assertRaises(ToolError):
            p.get(context(), {})
        with self.assertRaises(ValueError):
            Message("system", "x")
        self.assertEqual(prompt(name="q", description="d")(lambda ctx: user("x")).get(context(), {}).messages,
                         [user("x")])


class ContextServices(unittest.TestCase):
    def test_the_caller_and_the_request(self):
        ctx = context("bob", ["member", "admin"])
        self.assertEqual((ctx.principal.subject, ctx.request_id), ("bob", "req-1"))
        self.assertTrue(ctx.principal.has_role("admin"))
        self.assertEqual(ctx.bucket("notes").name, "notes")

    def test_host_services_need_a_component(self):
        ctx = context()
        for use in (lambda: ctx.report_progress(1, 2), lambda: ctx.notify_client("info", {"a": 1}),
                    ctx.cancelled, lambda: ctx.elicit("?", {"type": "object"}),
                    lambda: ctx.sample({"messages": []}), lambda: ctx.config("greeting")):
            with self.assertRaises(RuntimeError):
                use()

    def test_bad_requests_are_refused_before_the_host(self):
        ctx = context()
        with self.assertRaises(ValueError):
            ctx.notify_client("verbose", "x")
        with self.assertRaises(TypeError):
            ctx.elicit("?", ["not", "a", "schema"])
        with self.assertRaises(TypeError):
            ctx.sample("not a dict")

    def test_answers_and_ask_errors(self):
        self.assertTrue(Elicitation("accept", {"confirm": True}).accepted)
        self.assertEqual(Elicitation("decline").content, {})
        with self.assertRaises(ValueError):
            Elicitation("maybe")
        e = AskError("the client does not support elicitation")
        self.assertIsInstance(e, ToolError)
        self.assertEqual((e.kind, e.message), ("failed", "the client does not support elicitation"))


if __name__ == "__main__":
    unittest.main()
