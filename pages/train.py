"""Train: choose the settings, train in the background (or wait in line), watch it learn, publish the result.

In demo mode (mnistcore.lab.config) training, publishing and making models live are off, or need the passcode.
"""
import pandas as pd
import streamlit as st

from mnistcore.lab import config, publish as policy
from mnistcore.lab.model_list import models_table
from mnistcore.lab.slot import SlotBusy, clean_label, name_problem
from mnistcore.nets import NETWORKS, network
from mnistcore.training import (EXPLAINED, TrainSettings, Timings, describe_seconds, engine_problem, estimate_phases,
                                plural, recipes, risky)
from ui.charts import curves, trail
from ui.chrome import live_banner, now, open_page, when
from ui.text import plain, public
from ui.resources import feedback_store, mnist, slot, store
from ui.visitor import access, client, may_train, unlock

CUSTOM = "custom"
ENGINES = {n.engine: n.engine_label for n in NETWORKS.values()}  # the registry's, in its order
ACTIVATIONS = {"relu": "ReLU (learns fast)", "sigmoid": "Sigmoid (the tutorial's)"}
OPTIMIZERS = {"sgd": "Plain steps (the tutorial's)", "adam": "Adam"}
SCHEDULES = {"constant": "Same size all along", "cosine": "Smaller and smaller"}
FIELDS = ("engine", "arch", "epochs", "batch_size", "hidden", "learning_rate", "momentum", "activation",
          "optimizer", "schedule")


def timings() -> Timings:
    """How long runs took on this server (a small file, read at each estimate)."""
    return Timings(config.timings_path())


def put(settings: TrainSettings) -> None:
    """Fill the settings widgets with `settings` (before they are drawn)."""
    for name in FIELDS:
        st.session_state[name] = getattr(settings, name)


def recipe_picked() -> None:
    """The recipe radio changed: a recipe fills in its settings; Custom keeps the ones shown."""
    key = st.session_state.recipe
    if key != CUSTOM:
        put(recipes()[key].settings)


def made_custom() -> None:
    """A setting was changed by hand: the settings are no longer a recipe's."""
    st.session_state.recipe = CUSTOM


def number(label: str, name: str, limits: dict, **kwargs):
    """A number input whose range is the one TrainSettings.validate enforces (`limits`: TrainSettings.limits)."""
    low, high = limits[name]
    if isinstance(getattr(TrainSettings(), name), int):
        low, high = int(low), int(high)
    widget = st.number_input(f"{label} ({low:g} to {high:g})", min_value=low, max_value=high, key=name,
                             on_change=made_custom, **kwargs)
    st.caption(EXPLAINED[name])
    return widget


def network_changed() -> None:
    """Another network: custom settings, with its own defaults (e.g. a step size it learns well with)."""
    made_custom()
    chosen = NETWORKS.get((st.session_state.engine, st.session_state.arch))
    for name, value in (chosen.defaults if chosen is not None else {}).items():
        st.session_state[name] = value


def choice(label: str, name: str, options: dict, on_change=made_custom, **kwargs):
    if st.session_state.get(name) not in options:
        st.session_state[name] = next(iter(options))
    widget = st.radio(label, list(options), format_func=options.get, key=name, on_change=on_change, **kwargs)
    st.caption(EXPLAINED[name])
    return widget


def chosen_settings(n_train: int) -> TrainSettings:
    """The recipe radio and the settings widgets, read into a TrainSettings (not yet validated)."""
    menu = recipes()
    if "recipe" not in st.session_state:  # first visit, or back after a run: the last choice, else "best"
        st.session_state.recipe = st.session_state.get("last_recipe", "best")
        put(st.session_state.get("last_settings") or menu.get(st.session_state.recipe, menu["best"]).settings)
    for name in FIELDS:  # widgets not drawn last time (another engine's) were forgotten: refill them
        if name not in st.session_state:
            st.session_state[name] = getattr(st.session_state.get("last_settings") or menu["best"].settings, name)
    labels = {key: f"{r.title} ({describe_seconds(sum(estimate_phases(r.settings, n_train, timings())))})"
              for key, r in menu.items()} | {CUSTOM: "Custom: choose every setting yourself"}
    picked = st.radio("What would you like to train?", list(labels), format_func=labels.get, key="recipe",
                      on_change=recipe_picked)
    if picked != CUSTOM:
        st.caption(menu[picked].says)
    with st.expander("The settings" + (" (yours)" if picked == CUSTOM else ": change any to make your own"),
                     expanded=picked == CUSTOM):
        engine = choice("Engine", "engine", ENGINES, on_change=network_changed, horizontal=True)
        archs = {n.arch: n.label for n in NETWORKS.values() if n.engine == engine}
        arch = choice("Network", "arch", archs, on_change=network_changed)
        limits = TrainSettings(engine=engine, arch=arch).limits
        epochs = number("Epochs", "epochs", limits)
        batch_size = number("Batch size", "batch_size", limits)
        values = {}
        applies = network(engine, arch).applies
        if "hidden" in applies:
            values["hidden"] = number("Hidden units", "hidden", limits)
        if "activation" in applies:
            values["activation"] = choice("Activation", "activation", ACTIVATIONS, horizontal=True)
        if "optimizer" in applies:
            values["optimizer"] = choice("Learning rule", "optimizer", OPTIMIZERS, horizontal=True)
        if "learning_rate" in applies:
            values["learning_rate"] = number("Learning rate", "learning_rate", limits, step=0.01, format="%.4f")
        if "momentum" in applies and values.get("optimizer") == "sgd":
            values["momentum"] = number("Momentum", "momentum", limits, step=0.05)
        if "schedule" in applies:
            values["schedule"] = choice("Step size over the run", "schedule", SCHEDULES, horizontal=True)
    robust = st.toggle("Make it robust to different handwriting", key="robust",
                       help="Each batch of training digits is turned, slanted, resized, moved, made thicker or thinner "
                            "and gently warped, a different way every time: the model learns digits written other "
                            "ways than MNIST's. Training takes a little longer.")
    usable = feedback_store().usable_count()
    lab = st.toggle(f"Also learn from the lab's own drawings ({usable:,} labelled)", key="lab_drawings",
                    disabled=usable == 0,
                    help="The drawings visitors labelled on the Draw page join MNIST's training digits (not those "
                         "held for review). The Lab handwriting page then measures the model only on newer drawings.")
    return TrainSettings(engine=engine, arch=arch, epochs=epochs, batch_size=batch_size,
                         train_limit=config.train_limit(), robust=robust, lab_drawings=lab and usable > 0, **values)


def settings_form(me, busy: bool) -> None:
    """The recipes and settings, and Start (or, while someone else trains, Join the queue)."""
    st.subheader("Train your own model" if not busy else "Your run: settings")
    data = mnist()
    settings = chosen_settings(len(data[0][0]))
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
    start, training = estimate_phases(settings, len(data[0][0]), timings())
    seconds, limit = start + training, slot().max_seconds
    if seconds > limit:
        st.warning(f"These settings would take {describe_seconds(seconds)}; runs on this server are limited to "
                   f"{describe_seconds(limit)}. Choose fewer epochs, fewer hidden units or a larger batch.",
                   icon=":material/schedule:")
        return
    loading = f" (first loading TensorFlow: {describe_seconds(start)})" if start >= 5 else ""
    st.info(f"Estimated time: **{describe_seconds(seconds)}**{loading}, from the runs timed on this server "
            f"(longer while others are using it; runs are limited to {describe_seconds(limit)}).",
            icon=":material/schedule:")
    warning = risky(settings)
    if warning:
        st.warning(f"Careful: {warning}.", icon=":material/warning:")
    label, help = ("Start training", None) if not busy else (
        "Join the queue", "Your run starts by itself when the runs ahead of it are done. Keep this tab open: "
                          "a closed tab gives up its place.")
    if st.button(label, type="primary", icon=":material/play_arrow:", help=help):
        try:
            slot().submit(settings, data, me.id, label=clean_label(name, fallback=me.label), client=client())
        except (SlotBusy, ValueError) as err:  # QueueFull is a SlotBusy
            st.error(str(err))
            return
        st.session_state.last_settings, st.session_state.last_owner = settings, name
        st.session_state.last_recipe = st.session_state.recipe
        st.rerun()


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
    if status.settings.network.tensorflow and status.fraction == 0:
        # Nothing moves while TensorFlow loads: say so, rather than sit at "0% done".
        start, _ = estimate_phases(status.settings, timings=timings())
        left = start - (now() - status.started_at).total_seconds()
        st.progress(0.0, text=f"Loading TensorFlow… {describe_seconds(left) if left > 0 else 'almost done'}. "
                              f"Then {plural(status.settings.epochs, 'epoch')} of training.")
    else:
        st.progress(status.fraction, text=f"Epoch {status.epoch} of {status.settings.epochs}: "
                                          f"{status.fraction:.0%} done. Expected to finish in {remaining} "
                                          f"(around {when(status.expected_end)}).")
    if status.batch_loss is not None:
        a, b = st.columns(2)
        a.metric("Loss (this epoch so far)", f"{status.batch_loss:.3f}")
        b.metric("Training accuracy (this epoch so far)", f"{status.batch_accuracy:.1%}")
    curves(status, status.points or trail(status))
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


def outcome(status, live, rules, allowed: bool) -> None:
    """What came of this visitor's last run: how good it is against the live model, and Publish.

    A model worse than the live one, or under the lab's floor, is shown as such (red, never
    green), and publishing it needs a confirmation that names both accuracies (mnistcore.lab.publish).
    """
    if status.state == "failed":
        st.error(f"Training failed: {status.error}\n\nTry other settings, or try again later.")
        return
    result = slot().result(status.run_id)
    reason = result.stop_reason if result is not None else None
    if reason:
        st.error(reason, icon=":material/error:")
    elif status.state == "stopped":
        done, asked = len(status.history), status.settings.epochs
        why = status.note or "You stopped the run."
        st.warning(f"{why} It stopped after {done} of {plural(asked, 'epoch')}." +
                   ("" if status.can_publish or status.published_as else " No model came out of it."))
    if status.test_accuracy is None or result is None or result.evaluation is None:
        return
    st.subheader("Your model")
    live_accuracy = live.info.test_accuracy if live is not None else None
    check = policy.check_publish(status.test_accuracy, live_accuracy, config.publish_floor())
    trained = describe_trained(status)
    if status.published_as:
        st.success(f"Test accuracy: **{status.test_accuracy:.2%}**. Published: it is the live model now "
                   f"(saved as {status.published_as}). {trained}.")
    elif check.good:
        st.success(f"**{check.headline}** Better than the live model: you may publish it. {trained}.")
    else:
        lopsided = policy.one_answer(result.evaluation.confusion)
        says = f" It answers “{lopsided[0]}” for {lopsided[1]:.0%} of the test images." if lopsided else ""
        st.error(f"**{check.headline}** {check.warning}{says} {trained}.", icon=":material/thumb_down:")
    curves(status, result.points)
    ev = result.evaluation
    st.markdown("**Accuracy for each digit**")
    per_digit = pd.DataFrame({"accuracy": ev.per_digit}, index=[str(d) for d in range(10)])
    st.bar_chart(per_digit, x_label="digit", y_label="accuracy", height=220)
    st.markdown("**Confusion matrix**: each row is a true digit, each column what the model said; "
                "the diagonal holds the right answers.")
    st.dataframe(pd.DataFrame(ev.confusion, index=[f"true {d}" for d in range(10)],
                              columns=[f"said {d}" for d in range(10)]))
    if status.published_as:
        return
    if not allowed:
        st.info("Publishing is off in this demo: the live model stays as it is.", icon=":material/lock:")
        return
    if guarded_button(check, rules, "publish", "Publish: make it the live model", ":material/publish:",
                      "Everybody's Gallery and Draw pages will use it. Earlier models stay listed below."):
        try:
            slot().publish(status.run_id, store())
        except (ValueError, OSError) as err:
            st.error(f"Could not publish: {public(err)}")
            return
        st.rerun()


def describe_trained(status) -> str:
    """The settings, with the epochs the run really did ("stopped after 1 of 3 epochs")."""
    done, asked = len(status.history), status.settings.epochs
    text = status.settings.describe()
    return text if done >= asked else f"{text} (stopped after {done} of {plural(asked, 'epoch')})"


def guarded_button(check, rules, key: str, label: str, icon: str, help: str) -> bool:
    """A button that changes the live model, under the publish rule: True when clicked and allowed.

    A good model: a plain primary button. A risky one: refused in demo mode; otherwise a box to
    tick that names both accuracies, and a secondary "... anyway" button that works only once ticked.
    """
    if check.good:
        return st.button(label, type="primary", icon=icon, help=help, key=f"{key}-go")
    refused = policy.refusal(check, demo=rules.demo, confirmed=True)
    if refused:
        st.info(refused, icon=":material/lock:")
        return False
    confirmed = st.checkbox(check.confirm, key=f"{key}-confirm")
    clicked = st.button(f"{label.split(':')[0]} anyway", icon=icon, help=help, key=f"{key}-go", disabled=not confirmed)
    refused = policy.refusal(check, demo=rules.demo, confirmed=confirmed)
    if clicked and refused:  # checked again on the click itself: a stale page must not slip through
        st.error(refused)
        return False
    return clicked


def earlier_runs(live, rules, allowed: bool) -> None:
    st.subheader("Earlier models")
    models = store()
    runs = models.runs()
    st.dataframe(models_table(runs), hide_index=True)
    usable = policy.best_first([run for run in runs if run.info is not None and not run.live],
                               lambda run: run.info.test_accuracy)
    if not usable or not allowed:
        return
    labels = {run.name: ("shipped default: " if run.is_default else "") + run.info.summary() for run in usable}
    picked = st.selectbox("Make an earlier model live again (the best first)", list(labels), format_func=labels.get,
                          key="revert")
    chosen = next(run for run in usable if run.name == picked)
    check = policy.check_publish(chosen.info.test_accuracy, live.info.test_accuracy if live is not None else None,
                           config.publish_floor())
    if not check.good:
        st.warning(f"{check.headline} {check.warning}", icon=":material/warning:")
    if guarded_button(check, rules, f"revert-{picked}", "Make live", ":material/restore:",
                      "Everybody's Gallery and Draw pages will use it."):
        try:
            made = models.make_live(picked)
        except (ValueError, OSError) as err:  # ModelFileError is a ValueError
            st.error(f"Could not make that model live: {public(err)}")
            return
        st.session_state.notice = f"The live model is now: {made.info.summary()}."
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
    outcome(mine, live, rules, allowed)
if allowed and not waiting and (running is None or running.owner != me.id):
    settings_form(me, busy=running is not None)
earlier_runs(live, rules, allowed)
