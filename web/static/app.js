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
