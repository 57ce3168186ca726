// habitus web view: the live page's stream. Everything else works without script.
"use strict";
(function () {
  const list = document.getElementById("live");
  if (!list || !window.EventSource) return;
  const status = document.getElementById("live-status");
  const source = new EventSource("/events");
  source.onopen = () => { status.textContent = "Connected: new memories appear as assistants write them."; };
  source.onerror = () => { status.textContent = "Reconnecting…"; };
  source.onmessage = (event) => {
    const m = JSON.parse(event.data);
    if (document.querySelector(`[data-id="${CSS.escape(m.id)}"]`)) return;
    const card = document.createElement("article");
    card.className = `memory ${m.kind} fresh`;
    card.dataset.id = m.id;
    const meta = document.createElement("div");
    meta.className = "meta";
    const link = document.createElement("a");
    link.className = "id";
    link.href = `/memory/${encodeURIComponent(m.id)}`;
    link.textContent = m.id;
    meta.append(link);
    for (const text of [m.kind, m.scope, m.source, m.at]) {
      const span = document.createElement("span");
      span.textContent = text;
      meta.append(span);
    }
    const content = document.createElement("p");
    content.className = "content";
    content.textContent = m.content;  // memory content is data: never parsed as markup
    card.append(meta, content);
    list.prepend(card);
  };
})();
