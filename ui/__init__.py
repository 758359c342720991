"""What the pages share, grouped by kind; not pages themselves (streamlit_app.py lists those).

- `resources`: the server's shared objects (mnistcore.lab.services), with what to tell a visitor
  when one cannot be had;
- `visitor`: who this visitor is (a token that survives a reload) and whether they may train;
- `chrome`: what every page has: the title, the navigation fix, the live-model banner, heartbeats;
- `drawpad`, `figures`, `labels`: the Draw page's canvas and photo inputs, its pictures and bars as
  HTML, and the visitor's "Was I right?" label;
- `assets/`: the JavaScript and CSS the pages send to the browser, read once at import.

Page scripts import it as `ui.…`, which works because Streamlit puts the entry script's folder
on sys.path.
"""
