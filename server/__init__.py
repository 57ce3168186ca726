"""The MCP server: a thin adapter from MCP tools and resources to the memory service."""

from .app import INSTRUCTIONS, build_server
from .runtime import Runtime
from .serve import Transport, serve

__all__ = ["INSTRUCTIONS", "Runtime", "Transport", "build_server", "serve"]
