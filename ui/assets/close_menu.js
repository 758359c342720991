// On a narrow screen the site's navigation is the sidebar, drawn over the page; Streamlit leaves
// it open after a page is chosen, hiding the page the visitor asked for. Close it when a page opens.
export default function () {
  if (!window.matchMedia("(max-width: 640px)").matches) return;
  const sidebar = document.querySelector('[data-testid="stSidebar"]');
  const close = document.querySelector('[data-testid="stSidebarCollapseButton"] button');
  if (sidebar && close && sidebar.dataset.collapsed === "false") close.click();
}
