"""The local web view: find, understand and correct what assistants remember, in a browser.

Served by `habitus serve` over HTTP beside `/mcp` (and opened by `habitus ui`): server-rendered
pages (Jinja2, escaped), a small vendored script for the live stream, every action through the
same core operations as MCP and the CLI, so each lands in the journal and can be undone.
"""
