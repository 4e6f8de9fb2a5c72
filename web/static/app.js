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

// Uploads: show the chosen or dropped files (the file input itself accepts drops; this is only feedback).
document.addEventListener("DOMContentLoaded", () => {
  for (const zone of document.querySelectorAll("[data-dropzone]")) {
    const input = zone.querySelector("input[type=file]");
    const list = zone.querySelector("[data-file-list]");
    const show = () => {
      const names = Array.from(input.files || [], (f) => f.name);
      list.textContent = names.length ? `Đã chọn ${names.length} tệp: ${names.join(", ")}` : "";
      list.hidden = !names.length;
    };
    input.addEventListener("change", show);
    zone.addEventListener("dragover", (e) => { e.preventDefault(); zone.classList.add("dragging"); });
    zone.addEventListener("dragleave", () => zone.classList.remove("dragging"));
    zone.addEventListener("drop", (e) => {
      e.preventDefault();
      zone.classList.remove("dragging");
      if (e.dataTransfer?.files?.length) { input.files = e.dataTransfer.files; show(); }
    });
  }
});

// Job pages: follow the job's JSON twin once a second; reload for the final, server-rendered result.
document.addEventListener("DOMContentLoaded", () => {
  const head = document.querySelector("[data-job-url]");
  if (!head || ["published", "failed"].includes(head.dataset.jobState)) return;
  const status = head.querySelector("[data-job-status]");
  const bar = head.querySelector("[data-job-progress]");
  const tick = async () => {
    try {
      const job = await (await fetch(head.dataset.jobUrl, { headers: { Accept: "application/json" } })).json();
      if (["published", "failed"].includes(job.state)) { location.reload(); return; }
      status.textContent = job.status;
      if (bar && job.progress.total) { bar.hidden = false; bar.max = job.progress.total; bar.value = job.progress.done; }
    } catch { /* the next tick tries again */ }
    setTimeout(tick, 1000);
  };
  setTimeout(tick, 1000);
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
