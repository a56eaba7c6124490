"""End-to-end tests of `netscript lsp` with a real client (pytest-lsp, over stdio).

Every request the server answers is checked against a golden answer in golden/NAME.json
(the fixtures' directory written as $FIXTURES). To update them after a deliberate change:
NETSCRIPT_LSP_UPDATE=1 editors/test.sh, then review `git diff editors/lsp/golden`.
The server binary: $NETSCRIPT_BIN, else target/debug/netscript.
"""

import json
import os
import pathlib

import pytest
import pytest_lsp
from lsprotocol import types
from lsprotocol.converters import get_converter
from pytest_lsp import ClientServerConfig, LanguageClient

HERE = pathlib.Path(__file__).resolve().parent
FIXTURES = HERE / "fixtures"
GOLDEN = HERE / "golden"
BIN = os.environ.get("NETSCRIPT_BIN") or str(HERE.parent.parent / "target" / "debug" / "netscript")
CONVERTER = get_converter()


def uri(name):
    return (FIXTURES / name).as_uri()


def golden(name, value):
    """Compares a result with golden/NAME.json (writes it under NETSCRIPT_LSP_UPDATE)."""
    text = json.dumps(CONVERTER.unstructure(value), indent=2, sort_keys=True, ensure_ascii=False)
    text = text.replace(FIXTURES.as_uri(), "$FIXTURES") + "\n"
    path = GOLDEN / f"{name}.json"
    if os.environ.get("NETSCRIPT_LSP_UPDATE"):
        GOLDEN.mkdir(exist_ok=True)
        path.write_text(text)
    assert path.exists(), f"no golden answer {path}: run with NETSCRIPT_LSP_UPDATE=1"
    assert text == path.read_text(), f"{name}: the answer differs from {path}"


@pytest_lsp.fixture(config=ClientServerConfig(server_command=[BIN, "lsp"]))
async def client(lsp_client: LanguageClient):
    result = await lsp_client.initialize_session(
        types.InitializeParams(capabilities=types.ClientCapabilities(), root_uri=FIXTURES.as_uri())
    )
    golden("initialize", result)
    yield
    await lsp_client.shutdown_session()


async def open_doc(client, name, text=None):
    text = (FIXTURES / name).read_text() if text is None else text
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(uri=uri(name), language_id="netscript", version=1, text=text)
        )
    )
    await client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    return text


def position(text, needle, delta=0):
    """The LSP position of the first `needle` in `text` (plus `delta` characters)."""
    offset = text.index(needle) + delta
    line = text.count("\n", 0, offset)
    column = offset - (text.rfind("\n", 0, offset) + 1)
    return types.Position(line=line, character=len(text[offset - column:offset].encode("utf-16-le")) // 2)


def doc(name, text, needle, delta=0):
    return dict(text_document=types.TextDocumentIdentifier(uri=uri(name)), position=position(text, needle, delta))


async def test_diagnostics_on_open_and_on_change(client: LanguageClient):
    text = await open_doc(client, "broken.ns")
    diagnostics = client.diagnostics[uri("broken.ns")]
    assert [(d.code, d.severity) for d in diagnostics] == [("netscript::check::unknown_table", types.DiagnosticSeverity.Error)]
    assert "did you mean `wan`?" in diagnostics[0].message
    golden("diagnostics_broken", diagnostics)

    # Fixing the typo clears it.
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri("broken.ns"), version=2),
            content_changes=[types.TextDocumentContentChangeWholeDocument(text=text.replace("wna", "wan"))],
        )
    )
    await client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    assert list(client.diagnostics[uri("broken.ns")]) == []


async def test_diagnostics_in_included_files(client: LanguageClient):
    await open_doc(client, "net.ns", (FIXTURES / "net.ns").read_text().replace('"tables.ns"', '"bad_include.ns"'))
    included = (FIXTURES / "bad_include.ns").as_uri()
    # The document's diagnostics come first, then each included file's.
    while included not in client.diagnostics:
        await client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    assert [d.code for d in client.diagnostics[included]] == ["netscript::syntax::unclosed_block"]
    golden("diagnostics_included", client.diagnostics[included])


async def test_hover_shows_what_a_statement_plans(client: LanguageClient):
    text = await open_doc(client, "net.ns")
    hover = await client.text_document_hover_async(types.HoverParams(**doc("net.ns", text, "shape")))
    # The defaults made explicit: tbf's burst and latency.
    assert "tbf rate 1mbit burst 10kb latency 70ms" in hover.contents.value
    golden("hover_shape", hover)
    hover = await client.text_document_hover_async(types.HoverParams(**doc("net.ns", text, "ns2.v1")))
    golden("hover_namespace", hover)


async def test_completion_by_context(client: LanguageClient):
    text = await open_doc(client, "net.ns")
    # At a statement's start in a namespace body: its keywords.
    body = await client.text_document_completion_async(types.CompletionParams(**doc("net.ns", text, "  forward", 2)))
    labels = [i.label for i in body]
    assert "veth" in labels and "route" in labels and "netns" not in labels
    golden("completion_body_keywords", sorted(labels))
    # After `dev`: the interfaces of the namespace being edited.
    dev = await client.text_document_completion_async(types.CompletionParams(**doc("net.ns", text, "dev v0", 4)))
    golden("completion_dev", sorted(i.label for i in dev))
    # After `table` in a route: tables, declared in an included file too.
    table = await client.text_document_completion_async(types.CompletionParams(**doc("net.ns", text, "table wan", 6)))
    golden("completion_table", sorted(i.label for i in table))
    # In an interpolation: variables.
    var = await client.text_document_completion_async(types.CompletionParams(**doc("net.ns", text, "r{i}", 2)))
    golden("completion_variables", sorted(i.label for i in var))
    # At the top level: the top-level keywords.
    top = await client.text_document_completion_async(types.CompletionParams(**doc("net.ns", text, "netns ns2")))
    golden("completion_top", sorted(i.label for i in top))


async def test_definition_and_references(client: LanguageClient):
    text = await open_doc(client, "net.ns")
    # `link v0` → the veth that declares v0.
    definition = await client.text_document_definition_async(types.DefinitionParams(**doc("net.ns", text, "link v0", 5)))
    golden("definition_interface", definition)
    # `table wan` → its declaration in the included file.
    definition = await client.text_document_definition_async(types.DefinitionParams(**doc("net.ns", text, "table wan", 6)))
    assert definition[0].uri == uri("tables.ns")
    golden("definition_table_across_include", definition)
    # `{i}` → the loop variable.
    definition = await client.text_document_definition_async(types.DefinitionParams(**doc("net.ns", text, "r{i}", 2)))
    golden("definition_variable", definition)
    references = await client.text_document_references_async(
        types.ReferenceParams(**doc("net.ns", text, "ns2.v1"), context=types.ReferenceContext(include_declaration=True))
    )
    golden("references_namespace", references)


async def test_document_symbols(client: LanguageClient):
    await open_doc(client, "net.ns")
    symbols = await client.text_document_document_symbol_async(
        types.DocumentSymbolParams(text_document=types.TextDocumentIdentifier(uri=uri("net.ns")))
    )
    assert [s.name for s in symbols] == ["ns1", "ns2", "r{i}"]
    assert [c.name for c in symbols[0].children] == ["v0"]
    golden("document_symbols", symbols)


async def test_rename(client: LanguageClient):
    text = await open_doc(client, "net.ns")
    edit = await client.text_document_rename_async(types.RenameParams(**doc("net.ns", text, "ns2.v1"), new_name="peer"))
    assert len(edit.changes[uri("net.ns")]) == 2
    golden("rename_namespace", edit)
    edit = await client.text_document_rename_async(types.RenameParams(**doc("net.ns", text, "link v0", 5), new_name="wan0"))
    golden("rename_interface", edit)


async def test_formatting(client: LanguageClient):
    await open_doc(client, "messy.ns")
    edits = await client.text_document_formatting_async(
        types.DocumentFormattingParams(
            text_document=types.TextDocumentIdentifier(uri=uri("messy.ns")),
            options=types.FormattingOptions(tab_size=2, insert_spaces=True),
        )
    )
    golden("formatting", edits)
