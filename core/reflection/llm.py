"""An optional language model: any OpenAI-compatible chat-completions endpoint.

Nothing is contacted unless the user configures one. Entry points read the environment
(`Settings` in `core.config`): `HABITUS_LLM_URL` (base URL, e.g. `http://127.0.0.1:11434/v1` for
Ollama, `http://127.0.0.1:8080/v1` for llama.cpp, `https://api.openai.com/v1`),
`HABITUS_LLM_MODEL` (the model name the endpoint expects) and optionally `HABITUS_LLM_API_KEY`.

The client is the standard library's `urllib` (no SDK, no extra dependency), run in a worker
thread. Every call is bounded: a total deadline (`timeout`, default 60 s), a response size cap
and a cap on the tokens asked for. Every failure is a `ModelUnavailable` with a message that says
what went wrong and what to check, so callers (reflect, plugins) can fall back instead of crashing.
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

import anyio

from habitus.base.errors import ModelUnavailable
from habitus.core.config import Settings

__all__ = [
    "ChatModel", "configured_model", "MAX_RESPONSE_BYTES", "DEFAULT_TIMEOUT",
]

log = logging.getLogger("habitus.llm")

DEFAULT_TIMEOUT = 60.0
MAX_RESPONSE_BYTES = 2_000_000
MAX_TOKENS = 8_192
MAX_PROMPT_CHARS = 400_000


class ChatModel:
    """A small client for an OpenAI-compatible `/chat/completions` endpoint.

    `await model.complete(prompt, system=..., max_tokens=...)` returns the answer's text;
    `complete_sync` is the same call, blocking (for threads and scripts).
    """

    def __init__(
        self,
        url: str,
        model: str = "",
        api_key: str | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        max_response_bytes: int = MAX_RESPONSE_BYTES,
    ) -> None:
        url = (url or "").strip().rstrip("/")
        parsed = urllib.parse.urlparse(url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ModelUnavailable(
                f"HABITUS_LLM_URL must be an http(s) base URL such as http://127.0.0.1:11434/v1, "
                f"got {url[:100]!r}"
            )
        if not 0 < timeout <= 600:
            raise ModelUnavailable("the model timeout must be between 0 and 600 seconds")
        # Accept the base URL (…/v1) or the full endpoint.
        self.endpoint = url if url.endswith("/chat/completions") else f"{url}/chat/completions"
        self.name = model or "default"
        self.timeout = float(timeout)
        self.max_response_bytes = int(max_response_bytes)
        self._key = api_key or None

    def __repr__(self) -> str:  # never shows the key
        return f"ChatModel({self.endpoint!r}, model={self.name!r})"

    @classmethod
    def from_config(
        cls, url: str | None, model: str | None = None, api_key: str | None = None, **kwargs: Any
    ) -> ChatModel | None:
        """A client when `url` is set, else None (no model configured: nothing is contacted)."""
        return cls(url, model or "", api_key, **kwargs) if url and url.strip() else None

    async def complete(
        self, prompt: str, *, system: str | None = None, max_tokens: int = 800
    ) -> str:
        """The model's answer to `prompt`, within `timeout` seconds in all."""
        body = self._body(prompt, system, max_tokens)
        try:
            with anyio.fail_after(self.timeout + 1):
                return await anyio.to_thread.run_sync(self._post, body, abandon_on_cancel=True)
        except TimeoutError as exc:
            raise ModelUnavailable(self._timed_out()) from exc

    def complete_sync(
        self, prompt: str, *, system: str | None = None, max_tokens: int = 800
    ) -> str:
        """`complete`, blocking the calling thread."""
        return self._post(self._body(prompt, system, max_tokens))

    # --- plumbing ------------------------------------------------------------------------

    def _timed_out(self) -> str:
        return (f"the model at {self.endpoint} did not answer within {self.timeout:g} s; "
                "check that the server is running and the model is loaded")

    def _body(self, prompt: str, system: str | None, max_tokens: int) -> bytes:
        if not isinstance(prompt, str) or not prompt.strip():
            raise ModelUnavailable("the prompt is empty")
        if len(prompt) > MAX_PROMPT_CHARS:
            raise ModelUnavailable(f"the prompt has more than {MAX_PROMPT_CHARS} characters")
        messages = ([{"role": "system", "content": system}] if system else []) + [
            {"role": "user", "content": prompt}
        ]
        return json.dumps({
            "model": self.name,
            "messages": messages,
            "max_tokens": max(1, min(int(max_tokens), MAX_TOKENS)),
            "temperature": 0,
            "stream": False,
        }).encode("utf-8")

    def _post(self, body: bytes) -> str:
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self._key:
            headers["Authorization"] = f"Bearer {self._key}"
        request = urllib.request.Request(self.endpoint, data=body, headers=headers, method="POST")
        try:
            # `timeout` bounds each socket operation; `complete` also bounds the whole call.
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                raw = response.read(self.max_response_bytes + 1)
        except urllib.error.HTTPError as exc:
            detail = exc.read(300).decode("utf-8", "replace").strip()
            hint = " (check HABITUS_LLM_API_KEY)" if exc.code in (401, 403) else (
                " (check HABITUS_LLM_MODEL and the URL)" if exc.code == 404 else "")
            raise ModelUnavailable(
                f"the model at {self.endpoint} answered HTTP {exc.code}{hint}: {detail[:300]}"
            ) from exc
        except TimeoutError as exc:  # socket.timeout is TimeoutError
            raise ModelUnavailable(self._timed_out()) from exc
        except urllib.error.URLError as exc:
            if isinstance(exc.reason, TimeoutError):
                raise ModelUnavailable(self._timed_out()) from exc
            raise ModelUnavailable(
                f"cannot reach the model at {self.endpoint}: {exc.reason}") from exc
        except (OSError, ValueError) as exc:
            raise ModelUnavailable(f"cannot reach the model at {self.endpoint}: {exc}") from exc
        if len(raw) > self.max_response_bytes:
            raise ModelUnavailable(
                f"the model at {self.endpoint} sent more than {self.max_response_bytes} bytes"
            )
        return self._text(raw)

    def _text(self, raw: bytes) -> str:
        try:
            payload = json.loads(raw)
        except ValueError as exc:
            raise ModelUnavailable(
                f"the model at {self.endpoint} did not answer JSON: {raw[:200]!r}"
            ) from exc
        try:
            choice = payload["choices"][0]
            content = choice["message"]["content"]
        except (KeyError, IndexError, TypeError) as exc:
            error = payload.get("error") if isinstance(payload, dict) else None
            raise ModelUnavailable(f"the model at {self.endpoint} returned no completion: "
                                   f"{str(error or payload)[:200]}") from exc
        if isinstance(content, list):  # content parts
            content = "".join(
                str(p.get("text", "")) for p in content if isinstance(p, dict)
            )
        if not isinstance(content, str) or not content.strip():
            raise ModelUnavailable(f"the model at {self.endpoint} returned an empty answer")
        return content.strip()


def configured_model(settings: Settings) -> tuple[ChatModel | None, str | None]:
    """The model `settings` configure (None when none is), and why a configured one is ignored."""
    try:
        return ChatModel.from_config(settings.llm_url, settings.llm_model, settings.llm_api_key,
                                     timeout=settings.llm_timeout), None
    except ModelUnavailable as exc:
        log.error("configured model ignored: %s", exc)
        return None, str(exc)
