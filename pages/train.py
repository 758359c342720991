"""Train: choose the settings, train in the background (or wait in line), watch it learn, publish the result.

In demo mode (mnistcore.lab.config) training, publishing and making models live are off, or need the passcode.
"""
from dataclasses import asdict

import pandas as pd
import streamlit as st

from mnistcore.lab import config
from mnistcore.lab.slot import SlotBusy, clean_label, name_problem
from mnistcore.nets import ModelFileError
from mnistcore.training import LIMITS, TrainSettings, describe_seconds, engine_problem, estimate_seconds
from ui.chrome import live_banner, now, open_page, when
from ui.text import plain, public
from ui.resources import mnist, slot, store
from ui.visitor import access, client, may_train, unlock

DEFAULTS = TrainSettings()
ENGINES = {"numpy": "NumPy (our own network, the tutorial's)", "keras": "Keras (TensorFlow)"}
ARCHS = {"mlp": "MLP: the tutorial's network, one hidden layer", "cnn": "CNN: a convolutional network (slower, better)"}
SETTINGS_SHOWN = (("learningrate", "learning rate"), ("momentum", "momentum"))  # from a NumPy model's info
ACTIVATIONS = {"relu": "ReLU with softmax output (learns fast)", "sigmoid": "Sigmoid (the tutorial's original)"}


def last(name: str):
    """The value this visitor last trained with (else the default). Streamlit forgets a widget's
    value while the widget is not shown, as during a run, so the settings come back from here."""
    return getattr(st.session_state.get("last_settings", DEFAULTS), name)


def bounded(label: str, name: str, help: str, **kwargs):
    """A number input whose range is the one TrainSettings.validate enforces (training.LIMITS)."""
    low, high = LIMITS[name]
    if isinstance(getattr(DEFAULTS, name), int):
        low, high = int(low), int(high)
    return st.number_input(f"{label} ({low:g} to {high:g})", min_value=low, max_value=high, value=last(name),
                           help=help, key=name, **kwargs)


def choice(label: str, name: str, options: dict, **kwargs):
    return st.radio(label, list(options), index=list(options).index(last(name)), format_func=options.get,
                    key=name, **kwargs)


def chosen_settings() -> TrainSettings:
    """The settings widgets, read into a TrainSettings (not yet validated)."""
    engine = choice("Engine", "engine", ENGINES, horizontal=True)
    left, right = st.columns(2)
    with left:
        epochs = bounded("Epochs", "epochs", "How many times the network goes through all training images.")
        batch_size = bounded("Batch size", "batch_size",
                             "How many images it looks at before each small change to its weights. "
                             "1 is the tutorial's way (slow); 128 is quick.")
    with right:
        if engine == "numpy":
            hidden = bounded("Hidden units", "hidden", "Neurons in the middle layer.")
            learning_rate = bounded("Learning rate", "learning_rate", "How big each change to the weights is.",
                                    step=0.01, format="%.4f")
            momentum = bounded("Momentum", "momentum", "0 = the tutorial's plain steps; 0.9 keeps some of the "
                               "previous step's direction, which usually learns faster.", step=0.05)
            activation = choice("Activation", "activation", ACTIVATIONS)
            return TrainSettings(engine=engine, epochs=epochs, batch_size=batch_size, hidden=hidden,
                                 learning_rate=learning_rate, momentum=momentum, activation=activation,
                                 train_limit=config.train_limit())
        arch = choice("Architecture", "arch", ARCHS)
        return TrainSettings(engine=engine, epochs=epochs, batch_size=batch_size, arch=arch,
                             train_limit=config.train_limit())


def settings_form(me, busy: bool) -> None:
    """The settings, and Start (or, while someone else trains, Join the queue)."""
    st.subheader("Settings" if not busy else "Your run: settings")
    settings = chosen_settings()
    name = st.text_input(f"Your name, shown to others while you train (else you are “{me.label}”)",
                         value=st.session_state.get("last_owner", ""), key="owner", max_chars=40)
    if settings.train_limit:
        st.caption(f"Test mode: training on the first {settings.train_limit:,} images only "
                   f"({config.TRAIN_LIMIT_ENV} is set).")
    problem = name_problem(name)
    if problem:
        st.error(f"Please choose another name: {problem}.")
        return
    try:
        settings.validate()
    except ValueError as err:
        st.error(f"These settings cannot be used: {err}.")
        return
    problem = engine_problem(settings)
    if problem:
        st.warning(problem)
        return
    seconds, limit = estimate_seconds(settings), slot().max_seconds
    if seconds > limit:
        st.warning(f"These settings would take {describe_seconds(seconds)}; runs on this server are limited to "
                   f"{describe_seconds(limit)}. Choose fewer epochs, fewer hidden units or a larger batch.",
                   icon=":material/schedule:")
        return
    st.info(f"Estimated time: **{describe_seconds(seconds)}** (longer while others are using the server; "
            f"runs are limited to {describe_seconds(limit)}).", icon=":material/schedule:")
    label, help = ("Start training", None) if not busy else (
        "Join the queue", "Your run starts by itself when the runs ahead of it are done. Keep this tab open: "
                          "a closed tab gives up its place.")
    if st.button(label, type="primary", icon=":material/play_arrow:", help=help):
        data = mnist()
        try:
            slot().submit(settings, data, me.id, label=clean_label(name, fallback=me.label), client=client())
        except (SlotBusy, ValueError) as err:  # QueueFull is a SlotBusy
            st.error(str(err))
            return
        st.session_state.last_settings, st.session_state.last_owner = settings, name
        st.rerun()


def curves(status) -> None:
    if not status.history:
        st.caption("The loss and accuracy curves appear after the first epoch.")
        return
    table = pd.DataFrame([asdict(point) for point in status.history]).set_index("epoch")
    table.columns = ["training loss", "training accuracy", "test loss", "test accuracy"]
    left, right = st.columns(2)
    left.line_chart(table[["training loss", "test loss"]], x_label="epoch", y_label="loss", height=250)
    right.line_chart(table[["training accuracy", "test accuracy"]], x_label="epoch", y_label="accuracy", height=250)


@st.fragment(run_every=1.0)
def progress_panel(run_id: str, me) -> None:
    """Redrawn every second from the slot's snapshot; the rest of the page stays as it is.

    Each redraw is also this visitor's heartbeat: when their tab closes the redraws stop, and the
    slot stops their run (or drops their place in the queue) after a while.
    """
    slot().heartbeat(me.id)
    view = slot().view(me.id)
    status = view.current
    if status is None or status.run_id != run_id:
        st.rerun()  # the run has ended (or the next one began): redraw the whole page
    mine = status.owner == me.id
    who = "Your model" if mine else f"{plain(status.label)}'s model"
    st.subheader(f"{who} is training")
    st.caption(f"{status.settings.describe()}. Started at {when(status.started_at)}.")
    remaining = describe_seconds((status.expected_end - now()).total_seconds())
    st.progress(status.fraction, text=f"Epoch {status.epoch} of {status.settings.epochs}: {status.fraction:.0%} done. "
                                      f"Expected to finish in {remaining} (around {when(status.expected_end)}).")
    if status.batch_loss is not None:
        a, b = st.columns(2)
        a.metric("Loss (this epoch so far)", f"{status.batch_loss:.3f}")
        b.metric("Training accuracy (this epoch so far)", f"{status.batch_accuracy:.1%}")
    curves(status)
    if mine:
        st.caption("Keep this tab open: the run stops if the tab is closed. The live model changes only if "
                   "you publish the result.")
        if st.button("Stop", icon=":material/stop:", help="Ends the run after the current batch. "
                     "The live model does not change."):
            slot().stop(run_id)
    queue_panel(view)


def queue_panel(view) -> None:
    """Who is waiting, and this visitor's own place with a Leave button."""
    if not view.queue:
        return
    st.markdown(f"**Waiting ({len(view.queue)} of {view.queue_size} places taken)**")
    st.markdown("\n".join(f"{w.position}. {'You' if w is view.place else plain(w.label)}: {w.settings.describe()}; "
                          f"should start around {when(w.expected_start)}" for w in view.queue))
    place = view.place
    if place is not None:
        st.info(f"You are number {place.position} in the queue. Your run starts by itself around "
                f"{when(place.expected_start)}; keep this tab open to keep your place.",
                icon=":material/hourglass_top:")
        if st.button("Leave the queue", icon=":material/close:"):
            slot().cancel(place.owner)
            st.rerun()


def outcome(status, live, allowed: bool) -> None:
    """What came of this visitor's last run, and (where allowed) the Publish button."""
    if status.state == "failed":
        st.error(f"Training failed: {status.error}\n\nTry other settings, or try again later.")
        return
    if status.state == "stopped":
        done = len(status.history)
        why = status.note or "You stopped the run."
        st.warning(f"{why} It ended after {done} complete epoch{'s' if done != 1 else ''}." +
                   ("" if status.can_publish or status.published_as else " No model came out of it."))
    result = slot().result(status.run_id)
    if status.test_accuracy is None or result is None or result.evaluation is None:
        return
    st.subheader("Your model")
    if status.published_as:
        st.success(f"Test accuracy: **{status.test_accuracy:.2%}**. Published: it is the live model now "
                   f"(saved as {status.published_as}). {status.settings.describe()}.")
    else:
        compare = f" (the live model has {live.info.test_accuracy:.2%})" if live and live.info.test_accuracy else ""
        st.success(f"Test accuracy: **{status.test_accuracy:.2%}**{compare}. {status.settings.describe()}.")
    curves(status)
    ev = result.evaluation
    st.markdown("**Accuracy for each digit**")
    per_digit = pd.DataFrame({"accuracy": ev.per_digit}, index=[str(d) for d in range(10)])
    st.bar_chart(per_digit, x_label="digit", y_label="accuracy", height=220)
    st.markdown("**Confusion matrix**: each row is a true digit, each column what the model said; "
                "the diagonal holds the right answers.")
    st.dataframe(pd.DataFrame(ev.confusion, index=[f"true {d}" for d in range(10)],
                              columns=[f"said {d}" for d in range(10)]))
    if not status.published_as and not allowed:
        st.info("Publishing is off in this demo: the live model stays as it is.", icon=":material/lock:")
        return
    if not status.published_as and st.button(
            "Publish: make it the live model", type="primary", icon=":material/publish:",
            help="Everybody's Gallery and Draw pages will use it. Earlier models stay listed below."):
        try:
            slot().publish(status.run_id, store())
        except (ValueError, OSError) as err:
            st.error(f"Could not publish: {public(err)}")
            return
        st.rerun()


def earlier_runs(allowed: bool) -> None:
    st.subheader("Earlier models")
    models = store()
    runs = models.runs()
    rows = []
    for run in runs:
        info = run.info
        if info is None:
            rows.append({"": "", "test accuracy": "", "network": f"{run.name}: unreadable ({run.error})",
                         "training": "", "trained (UTC)": ""})
            continue
        extras = [f"{name} {info.settings[key]:g}" for key, name in SETTINGS_SHOWN
                  if isinstance(info.settings.get(key), (int, float))]
        epochs = f"{info.epochs} epoch{'s' if info.epochs != 1 else ''} at batch {info.batch_size}"
        rows.append({
            "": ", ".join(word for word, yes in (("shipped", run.is_default), ("live", run.live)) if yes),
            "test accuracy": f"{info.test_accuracy:.2%}" if info.test_accuracy is not None else "untested",
            "network": f"{info.engine} {info.architecture}",
            "training": ", ".join([epochs] + extras),
            "trained (UTC)": info.trained_at[:16].replace("T", " "),
        })
    st.dataframe(pd.DataFrame(rows), hide_index=True)
    usable = [run for run in runs if run.info is not None and not run.live]
    if not usable or not allowed:
        return
    labels = {run.name: ("shipped default: " if run.is_default else "") + run.info.summary() for run in usable}
    picked = st.selectbox("Make an earlier model live again", list(labels), format_func=labels.get, key="revert")
    if st.button("Make live", icon=":material/restore:"):
        try:
            live = models.make_live(picked)
        except (ValueError, ModelFileError, OSError) as err:
            st.error(f"Could not make that model live: {public(err)}")
            return
        st.session_state.notice = f"The live model is now: {live.info.summary()}."
        st.rerun()


def closed(rules) -> None:
    """Why this visitor cannot train here, and the passcode box where there is one."""
    if rules.problem:
        st.warning(f"Training is off because the demo settings have a mistake: {public(rules.problem)}. Whoever runs "
                   "this server can fix it in the environment or in .streamlit/secrets.toml.")
    if rules.passcode is None:
        st.info("**Training is off in this demo.** Below are the live model's training and the earlier models, "
                "to look at. Draw and Gallery are open to everyone: try the live model there.", icon=":material/lock:")
        return
    st.info("**Training needs the lab's passcode in this demo.** Without it you can watch, and look at the "
            "earlier models below; Draw and Gallery are open to everyone.", icon=":material/lock:")
    given = st.text_input("Passcode", type="password", key="passcode")
    if st.button("Unlock training", icon=":material/lock_open:"):
        problem = unlock(given, rules)
        if problem is None:
            st.rerun()
        st.error(problem)


me = open_page("Train a network", keep_alive=False)
live = live_banner()
if "notice" in st.session_state:
    st.success(st.session_state.pop("notice"))
rules = access()
allowed = may_train(rules)
if not allowed:
    closed(rules)
slot().heartbeat(me.id)

view = slot().view(me.id)
running, mine, waiting = view.current, view.mine, view.place is not None
if running is not None:
    if running.owner != me.id and not waiting:
        join = (" One run at a time: join the queue below and yours starts by itself when it is your turn."
                if allowed else "")
        st.info(f"{plain(running.label)} is training a model, until around {when(running.expected_end)}.{join}",
                icon=":material/hourglass_top:")
    progress_panel(running.run_id, me)
if mine is not None and not mine.running:
    outcome(mine, live, allowed)
if allowed and not waiting and (running is None or running.owner != me.id):
    settings_form(me, busy=running is not None)
earlier_runs(allowed)
