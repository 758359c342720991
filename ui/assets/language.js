// The page's language for screen readers and fonts (<html lang>), and Streamlit's own widget texts
// that it offers no setting for (the file uploader's and the camera's), in that language.
// data: {lang: "zh-CN", texts: {"Take Photo": "拍照", ...}, parts: {"per file": "每个文件"}}: whole
// texts, and parts of longer ones. They are swapped on the text nodes themselves, and again
// whenever Streamlit draws a widget anew.
export default function ({ data }) {
  document.documentElement.lang = data.lang;
  const texts = data.texts || {};
  const originals = new Map(Object.entries(texts));
  const parts = Object.entries(data.parts || {});
  const swap = (root) => {
    const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      const said = node.nodeValue.trim();
      if (originals.has(said)) node.nodeValue = node.nodeValue.replace(said, originals.get(said));
      for (const [part, said_here] of parts) {
        if (node.nodeValue.includes(part)) node.nodeValue = node.nodeValue.replace(part, said_here);
      }
    }
  };
  const where = '[data-testid="stFileUploader"], [data-testid="stCameraInput"]';
  const swapAll = () => document.querySelectorAll(where).forEach(swap);
  swapAll();
  if (!originals.size && !parts.length) return;
  const observer = new MutationObserver(swapAll);
  observer.observe(document.body, { childList: true, subtree: true, characterData: true });
  return () => observer.disconnect();
}
