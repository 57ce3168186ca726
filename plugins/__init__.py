"""habitus plugins: the hook marker, the context plugins receive, and the built-in plugins.

    from habitus.plugins import hookimpl

    @hookimpl
    def enrich_memory(memory, context): ...

See docs/plugins.md for every hook and a complete example.
"""

from habitus.plugins.api import HookSpecs, LanguageModel, PluginContext, hookimpl, hookspec

__all__ = ["HookSpecs", "LanguageModel", "PluginContext", "hookimpl", "hookspec"]
