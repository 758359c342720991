// Finds every shadow root holding a canvas (now and whenever the page changes), adds the
// style sheet `data.css` once and names Undo and Clear in the visitor's language (`data.names`:
// the canvas' own aria-label -> ours), which the style sheet shows as their visible text.
// Runs in the page itself: Streamlit's v2 components are not sandboxed. A canvas gets its shadow root, and draws itself in it, a moment after its element is
// added to the page, and changes inside a shadow root are not seen by an observer of the page's
// body: so each shadow root is watched too, and after each change the page is looked at again.
export default function ({ data }) {
  const watched = new WeakSet();
  let queued = false, stopped = false;
  const apply = () => {
    for (const element of document.querySelectorAll("*")) {
      const root = element.shadowRoot;
      if (root && !watched.has(root)) {
        watched.add(root);
        observer.observe(root, { childList: true, subtree: true });
      }
      if (root && root.querySelector(".dc-root") && !root.querySelector("style[data-mnistlab]")) {
        const style = document.createElement("style");
        style.dataset.mnistlab = "canvas";
        style.textContent = data.css;
        root.appendChild(style);
      }
      if (root && root.querySelector(".dc-root")) {
        for (const [own, name] of Object.entries(data.names || {})) {
          for (const button of root.querySelectorAll(`.dc-icon-button[aria-label="${own}"], .dc-icon-button[data-mnistlab="${own}"]`)) {
            button.setAttribute("aria-label", name);
            button.title = name;
            button.dataset.mnistlab = own;
          }
        }
      }
    }
  };
  const soon = () => {
    if (!queued && !stopped) { queued = true; requestAnimationFrame(() => { queued = false; apply(); }); }
  };
  const observer = new MutationObserver(() => { soon(); for (const ms of [100, 500, 2000]) setTimeout(soon, ms); });
  observer.observe(document.body, { childList: true, subtree: true });
  apply();
  for (const ms of [100, 500, 2000]) setTimeout(soon, ms);
  return () => { stopped = true; observer.disconnect(); };
}
