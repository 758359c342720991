"""The Train page's form: a recipe or every setting, the estimate, and Start (or Join the queue);
and, where this visitor may not train, why not and the passcode box."""
from __future__ import annotations

import streamlit as st

from mnistcore.lab import config
from mnistcore.lab.slot import SlotBusy, clean_label, name_problem
from mnistcore.nets import NETWORKS, network
from mnistcore.training import (EXPLAINED, Timings, TrainSettings, describe_seconds, engine_problem, estimate_phases,
                                recipes, risky)
from ui import visitor
from ui.resources import feedback_store, mnist, slot
from ui.text import public

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
            slot().submit(settings, data, me.id, label=clean_label(name, fallback=me.label), client=visitor.client())
        except (SlotBusy, ValueError) as err:  # QueueFull is a SlotBusy
            st.error(str(err))
            return
        st.session_state.last_settings, st.session_state.last_owner = settings, name
        st.session_state.last_recipe = st.session_state.recipe
        st.rerun()


def closed(rules, own: bool = False) -> None:
    """Why this visitor cannot train here (or, with `own`, cannot make a model live), and the
    passcode box where there is one."""
    if own:  # the class trains; making a model live stays the operator's
        if rules.passcode is not None:
            with st.expander("For whoever runs the lab: make models live", icon=":material/lock:"):
                passcode_box(rules)
        return
    if rules.problem:
        st.warning(f"Training is off because the demo settings have a mistake: {public(rules.problem)}. Whoever runs "
                   "this server can fix it in the environment or in .streamlit/secrets.toml.")
    if rules.passcode is None:
        st.info("**Training is off in this demo.** Below are the live model's training and the earlier models, "
                "to look at. Draw and Gallery are open to everyone: try the live model there.", icon=":material/lock:")
        return
    st.info("**Training needs the lab's passcode in this demo.** Without it you can watch, and look at the "
            "earlier models below; Draw and Gallery are open to everyone.", icon=":material/lock:")
    passcode_box(rules)


def passcode_box(rules) -> None:
    """The passcode and Unlock: training, publishing and making models live for this session."""
    given = st.text_input("Passcode", type="password", key="passcode")
    if st.button("Unlock training", icon=":material/lock_open:"):
        problem = visitor.unlock(given, rules)
        if problem is None:
            st.rerun()
        st.error(problem)
