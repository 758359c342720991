"""Class board: every model trained in this lab, best first, updated as models join; whoever runs
the lab makes one live for everyone from here."""
import streamlit as st

from mnistcore.lab.model_list import class_table, shown_columns
from ui.chrome import live_banner, open_page, watch_class_board
from ui.resources import class_board, class_owner
from ui.text import N_, _, number
from ui.train_run import make_class_model_live
from ui.visitor import access, may_train

me = open_page(N_("Class board"))
live = live_banner()
board = class_board()
version = board.version()  # before reading the entries: a model added meanwhile redraws the page again
watch_class_board(version)
if "notice" in st.session_state:
    st.success(st.session_state.pop("notice"))
entries = board.entries()
if not entries:
    st.info(_("No model has been trained in this lab yet. Train one on the Train page: it appears here, and "
              "on every open board, as soon as it has finished."), icon=":material/school:")
    st.stop()
st.caption(_("Every model trained in this lab, the best first: how many of MNIST's {count} test digits it "
             "reads right, and how many of the lab's own labelled drawings it did not train on.").format(
    count=number(10_000)))
st.dataframe(shown_columns(class_table(entries, mine=class_owner(me.id))), hide_index=True, column_config={
    _("MNIST test accuracy"): st.column_config.NumberColumn("MNIST", format="percent", width="small"),
    _("lab drawings"): st.column_config.TextColumn(_("Lab drawings"), width="small"),
})
rules = access()
if may_train(rules):
    make_class_model_live(entries, live, rules)
else:
    st.caption(":material/lock: " + _("Whoever runs the lab makes a model live for everyone."))
