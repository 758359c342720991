"""Train: choose the settings, train in the background (or wait in line), watch it learn, publish the result.

In demo mode (mnistcore.lab.config) training, publishing and making models live are off, or need the passcode.
"""
import streamlit as st

from ui.chrome import live_banner, open_page, watch_class_board, when
from ui.resources import class_board, slot
from ui.text import N_, _, visitor_name
from ui.train_form import closed, settings_form
from ui.train_run import earlier_runs, outcome, progress_panel
from ui.visitor import access, may_train, may_train_own

me = open_page(N_("Train a network"), keep_alive=False)
live = live_banner()
watch_class_board(class_board().version())  # the class's results, which this visitor's is compared with
if "notice" in st.session_state:
    st.success(st.session_state.pop("notice"))
rules = access()
allowed = may_train(rules)           # publish and make models live for everyone
own = may_train_own(rules)           # train a model of one's own (the class board keeps it)
if not allowed:
    closed(rules, own)
slot().heartbeat(me.id)

view = slot().view(me.id)
running, mine, waiting = view.current, view.mine, view.place is not None
if running is not None:
    if running.owner != me.id and not waiting:
        join = (_(" One run at a time: join the queue below and yours starts by itself when it is your turn.")
                if own else "")
        st.info(_("{name} is training a model, until around {time}.").format(
            name=visitor_name(running.label), time=when(running.expected_end)) + join,
                icon=":material/hourglass_top:")
    progress_panel(running.run_id, me)
if mine is not None and not mine.running:
    outcome(mine, live, rules, allowed)
if own and not waiting and (running is None or running.owner != me.id):
    settings_form(me, busy=running is not None)
earlier_runs(live, rules, allowed)
