// Progressive enhancement only: copy buttons for citations (the citation is selectable text without JS),
// and bringing the chosen task into view on the document page.
document.addEventListener("DOMContentLoaded", () => {
  for (const btn of document.querySelectorAll("button.copy[data-copy]")) {
    btn.hidden = false;
    btn.addEventListener("click", async () => {
      const text = document.getElementById(btn.dataset.copy)?.textContent?.trim() ?? "";
      try {
        await navigator.clipboard.writeText(text);
        btn.textContent = "Đã sao chép";
      } catch {
        const sel = window.getSelection();
        const range = document.createRange();
        range.selectNodeContents(document.getElementById(btn.dataset.copy));
        sel.removeAllRanges();
        sel.addRange(range);
        btn.textContent = "Đã chọn — nhấn Ctrl+C";
      }
    });
  }
  const chosen = document.querySelector(".unit.chosen");
  if (chosen && !location.hash) {
    chosen.scrollIntoView({ block: "start" });
  }
  if (chosen) chosen.focus({ preventScroll: true });
});

// Document picker on the compare page: search-as-you-type over /api/suggest/documents (the form works
// without it: a typed name is resolved by the server, or the matching documents are listed to choose from).
document.addEventListener("DOMContentLoaded", () => {
  for (const box of document.querySelectorAll("[data-picker]")) {
    const input = box.querySelector("input[type=search]");
    const list = box.querySelector(".picker-list");
    const note = box.querySelector(".hint");
    let timer = 0, seq = 0;
    const close = () => { list.hidden = true; list.replaceChildren(); };
    input.addEventListener("input", () => {
      clearTimeout(timer);
      const q = input.value.trim();
      if (q.length < 2) { close(); return; }
      timer = setTimeout(async () => {
        const mine = ++seq;
        const r = await fetch("/api/suggest/documents?" + new URLSearchParams({ q, limit: "8" }));
        if (!r.ok || mine !== seq) return;
        const data = await r.json();
        list.replaceChildren(...data.results.map((h) => {
          const li = document.createElement("li");
          const b = document.createElement("button");
          b.type = "button";
          b.setAttribute("role", "option");
          b.textContent = h.label;  // text, never HTML
          b.addEventListener("click", () => {
            input.value = h.document.doc_id;
            note.textContent = "Đã chọn: " + h.label;
            close();
            input.focus();
          });
          li.append(b);
          return li;
        }));
        list.hidden = data.results.length === 0;
      }, 150);
    });
    input.addEventListener("keydown", (e) => {
      if (e.key === "ArrowDown" && !list.hidden) { e.preventDefault(); list.querySelector("button")?.focus(); }
      if (e.key === "Escape") close();
    });
    list.addEventListener("keydown", (e) => {
      const items = [...list.querySelectorAll("button")];
      const i = items.indexOf(document.activeElement);
      if (e.key === "ArrowDown") { e.preventDefault(); items[Math.min(i + 1, items.length - 1)]?.focus(); }
      if (e.key === "ArrowUp") { e.preventDefault(); (i > 0 ? items[i - 1] : input).focus(); }
      if (e.key === "Escape") { close(); input.focus(); }
    });
  }
});
