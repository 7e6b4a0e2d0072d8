// Math typesetting (KaTeX) and the authoring live preview. Loaded by course pages only.
//
// The server renders Markdown and sanitises it (courses/rendering.py); math arrives as
// <span class="math inline"> / <div class="math block"> holding escaped TeX, which KaTeX
// typesets here. `trust: false` keeps \href, \url and \includegraphics inert.
import katex from "katex";
import "katex/dist/katex.css";

const KATEX_OPTIONS: katex.KatexOptions = {
  throwOnError: false,
  trust: false,
  strict: "ignore",
  maxSize: 20,
  maxExpand: 500,
};

/** Typeset every math element under `root` not typeset yet. */
export function typesetMath(root: ParentNode): void {
  root.querySelectorAll<HTMLElement>(".math.inline, .math.block").forEach((el) => {
    if (el.dataset.typeset === "true") return;
    const tex = el.textContent ?? "";
    katex.render(tex, el, { ...KATEX_OPTIONS, displayMode: el.classList.contains("block") });
    el.dataset.typeset = "true";
  });
}

function debounce<T extends unknown[]>(fn: (...args: T) => void, ms: number): (...args: T) => void {
  let timer: number | undefined;
  return (...args: T) => {
    window.clearTimeout(timer);
    timer = window.setTimeout(() => fn(...args), ms);
  };
}

/**
 * Live preview: a textarea with data-preview-url and data-preview-target is POSTed (with
 * the form's CSRF token) to the server's rendering endpoint as the teacher types; the
 * sanitised HTML it returns is what learners will see, then typeset here.
 */
function wirePreview(root: ParentNode): void {
  root.querySelectorAll<HTMLTextAreaElement>("textarea[data-preview-url]").forEach((source) => {
    const target = document.querySelector<HTMLElement>(source.dataset.previewTarget ?? "");
    const token = source.form?.querySelector<HTMLInputElement>('input[name="csrfmiddlewaretoken"]');
    if (!target || !token) return;
    let sequence = 0;
    const refresh = async (): Promise<void> => {
      const mine = ++sequence;
      const body = new URLSearchParams({ source: source.value });
      try {
        const response = await fetch(source.dataset.previewUrl as string, {
          method: "POST",
          headers: { "X-CSRFToken": token.value },
          body,
          credentials: "same-origin",
        });
        if (!response.ok || mine !== sequence) return;
        const data = (await response.json()) as { html: string };
        target.innerHTML = data.html; // sanitised by the server
        typesetMath(target);
        target.dataset.state = "ready";
      } catch {
        target.dataset.state = "error";
      }
    };
    source.addEventListener("input", debounce(() => void refresh(), 300));
    void refresh();
  });
}

typesetMath(document);
wirePreview(document);
// Other scripts (the tutor chat) insert server-sanitised HTML later and ask for math.
document.addEventListener("exo:typeset", (event: Event) => {
  if (event.target instanceof HTMLElement) typesetMath(event.target);
});
