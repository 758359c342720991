"""Class board: every model trained in this lab, best first, updated as models join; whoever runs
the lab makes one live for everyone from here."""
import streamlit as st

from mnistcore.lab.model_list import class_table
from ui.chrome import live_banner, open_page, watch_class_board
from ui.resources import class_board, class_owner
from ui.train_run import make_class_model_live
from ui.visitor import access, may_train

me = open_page("Class board")
live = live_banner()
board = class_board()
version = board.version()  # before reading the entries: a model added meanwhile redraws the page again
watch_class_board(version)
if "notice" in st.session_state:
    st.success(st.session_state.pop("notice"))
entries = board.entries()
if not entries:
    st.info("No model has been trained in this lab yet. Train one on the Train page: it appears here, and "
            "on every open board, as soon as it has finished.", icon=":material/school:")
    st.stop()
st.caption("Every model trained in this lab, the best first: how many of MNIST's 10,000 test digits it reads "
           "right, and how many of the lab's own labelled drawings it did not train on.")
st.dataframe(class_table(entries, mine=class_owner(me.id)), hide_index=True, column_config={
    "MNIST test accuracy": st.column_config.NumberColumn("MNIST", format="percent", width="small"),
    "lab drawings": st.column_config.TextColumn("Lab drawings", width="small"),
})
rules = access()
if may_train(rules):
    make_class_model_live(entries, live, rules)
else:
    st.caption(":material/lock: Whoever runs the lab makes a model live for everyone.")
