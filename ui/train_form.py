"""The Train page's form: a recipe or every setting, the estimate, and Start (or Join the queue);
and, where this visitor may not train, why not and the passcode box."""
from __future__ import annotations

import streamlit as st

from mnistcore.lab import config
from mnistcore.lab.slot import SlotBusy, clean_label, name_problem
from mnistcore.nets import NETWORKS, network
from mnistcore.training import (
    EXPLAINED,
    Timings,
    TrainSettings,
    describe_seconds,
    engine_problem,
    estimate_phases,
    recipes,
    risky,
)
from ui import visitor
from ui.resources import feedback_store, mnist, slot
from ui.text import N_, _, choose, public, visitor_name
from ui.text import number as written

CUSTOM = "custom"
ENGINES = {n.engine: n.engine_label for n in NETWORKS.values()}  # the registry's, in its order
# Options' words in English (N_), shown in the visitor's language.
ACTIVATIONS = {"relu": N_("ReLU (learns fast)"), "sigmoid": N_("Sigmoid (the tutorial's)")}
OPTIMIZERS = {"sgd": N_("Plain steps (the tutorial's)"), "adam": "Adam"}
SCHEDULES = {"constant": N_("Same size all along"), "cosine": N_("Smaller and smaller")}
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
    widget = st.number_input(_("{setting} ({low} to {high})").format(setting=label, low=f"{low:g}", high=f"{high:g}"),
                             min_value=low, max_value=high, key=name,
                             on_change=made_custom, **kwargs)
    st.caption(_(EXPLAINED[name]))
    return widget


def network_changed() -> None:
    """Another network: custom settings, with its own defaults (e.g. a step size it learns well with)."""
    made_custom()
    chosen = NETWORKS.get((st.session_state.engine, st.session_state.arch))
    for name, value in (chosen.defaults if chosen is not None else {}).items():
        st.session_state[name] = value


def choice(label: str, name: str, options: dict, on_change=made_custom, **kwargs):
    shown = {key: _(words) for key, words in options.items()}  # translated now: the widget keeps the function
    widget = choose(st.radio, label, options, format_func=shown.get, key=name, on_change=on_change, **kwargs)
    st.caption(_(EXPLAINED[name]))
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
    labels = {key: _("{recipe} ({time})").format(recipe=_(r.title), time=describe_seconds(
                  sum(estimate_phases(r.settings, n_train, timings())))) for key, r in menu.items()}
    labels[CUSTOM] = _("Custom: choose every setting yourself")
    picked = choose(st.radio, _("What would you like to train?"), labels, format_func=labels.get, key="recipe",
                    on_change=recipe_picked)
    if picked != CUSTOM:
        st.caption(_(menu[picked].says))
    with st.expander(_("The settings (yours)") if picked == CUSTOM else _("The settings: change any to make your own"),
                     expanded=picked == CUSTOM):
        engine = choice(_("Engine"), "engine", ENGINES, on_change=network_changed, horizontal=True)
        archs = {n.arch: n.label for n in NETWORKS.values() if n.engine == engine}
        arch = choice(_("Network"), "arch", archs, on_change=network_changed)
        limits = TrainSettings(engine=engine, arch=arch).limits
        epochs = number(_("Epochs"), "epochs", limits)
        batch_size = number(_("Batch size"), "batch_size", limits)
        values = {}
        applies = network(engine, arch).applies
        if "hidden" in applies:
            values["hidden"] = number(_("Hidden units"), "hidden", limits)
        if "activation" in applies:
            values["activation"] = choice(_("Activation"), "activation", ACTIVATIONS, horizontal=True)
        if "optimizer" in applies:
            values["optimizer"] = choice(_("Learning rule"), "optimizer", OPTIMIZERS, horizontal=True)
        if "learning_rate" in applies:
            values["learning_rate"] = number(_("Learning rate"), "learning_rate", limits, step=0.01, format="%.4f")
        if "momentum" in applies and values.get("optimizer") == "sgd":
            values["momentum"] = number(_("Momentum"), "momentum", limits, step=0.05)
        if "schedule" in applies:
            values["schedule"] = choice(_("Step size over the run"), "schedule", SCHEDULES, horizontal=True)
    robust = st.toggle(_("Make it robust to different handwriting"), key="robust",
                       help=_("Each batch of training digits is turned, slanted, resized, moved, made thicker or "
                              "thinner and gently warped, a different way every time: the model learns digits "
                              "written other ways than MNIST's. Training takes a little longer."))
    usable = feedback_store().usable_count()
    lab = st.toggle(_("Also learn from the lab's own drawings ({count} labelled)").format(count=written(usable)),
                    key="lab_drawings", disabled=usable == 0,
                    help=_("The drawings visitors labelled on the Draw page join MNIST's training digits (not "
                           "those held for review). The Lab handwriting page then measures the model only on "
                           "newer drawings."))
    return TrainSettings(engine=engine, arch=arch, epochs=epochs, batch_size=batch_size,
                         train_limit=config.train_limit(), robust=robust, lab_drawings=lab and usable > 0, **values)


def settings_form(me, busy: bool) -> None:
    """The recipes and settings, and Start (or, while someone else trains, Join the queue)."""
    st.header(_("Train your own model") if not busy else _("Your run: settings"), anchor=False)
    data = mnist()
    settings = chosen_settings(len(data[0][0]))
    name = st.text_input(_("Your name, shown to others while you train (else you are “{name}”)").format(
                         name=visitor_name(me.label)),
                         value=st.session_state.get("last_owner", ""), key="owner", max_chars=40)
    if settings.train_limit:
        st.caption(_("Test mode: training on the first {count} images only ({setting} is set).").format(
                   count=written(settings.train_limit), setting=config.TRAIN_LIMIT_ENV))
    problem = name_problem(name)
    if problem:
        st.error(_("Please choose another name: {problem}.").format(problem=problem))
        return
    try:
        settings.validate()
    except ValueError as err:
        st.error(_("These settings cannot be used: {problem}.").format(problem=err))
        return
    problem = engine_problem(settings)
    if problem:
        st.warning(problem)
        return
    start, training = estimate_phases(settings, len(data[0][0]), timings())
    seconds, limit = start + training, slot().max_seconds
    if seconds > limit:
        st.warning(_("These settings would take {time}; runs on this server are limited to {limit}. Choose fewer "
                     "epochs, fewer hidden units or a larger batch.").format(time=describe_seconds(seconds),
                                                                             limit=describe_seconds(limit)),
                   icon=":material/schedule:")
        return
    loading = _(" (first loading TensorFlow: {time})").format(time=describe_seconds(start)) if start >= 5 else ""
    st.info(_("Estimated time: **{time}**{loading}, from the runs timed on this server (longer while others are "
              "using it; runs are limited to {limit}).").format(time=describe_seconds(seconds), loading=loading,
                                                                limit=describe_seconds(limit)),
            icon=":material/schedule:")
    warning = risky(settings)
    if warning:
        st.warning(_("Careful: {warning}.").format(warning=warning), icon=":material/warning:")
    label, help = (_("Start training"), None) if not busy else (
        _("Join the queue"), _("Your run starts by itself when the runs ahead of it are done. Keep this tab open: "
                               "a closed tab gives up its place."))
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
            with st.expander(_("For whoever runs the lab: make models live"), icon=":material/lock:"):
                passcode_box(rules)
        return
    if rules.problem:
        st.warning(_("Training is off because the demo settings have a mistake: {problem}. Whoever runs this "
                     "server can fix it in the environment or in .streamlit/secrets.toml.").format(
                         problem=public(rules.problem)))
    if rules.passcode is None:
        st.info(_("**Training is off in this demo.** Below are the live model's training and the earlier "
                  "models, to look at. Draw and Gallery are open to everyone: try the live model there."),
                icon=":material/lock:")
        return
    st.info(_("**Training needs the lab's passcode in this demo.** Without it you can watch, and look at the "
              "earlier models below; Draw and Gallery are open to everyone."), icon=":material/lock:")
    passcode_box(rules)


def passcode_box(rules) -> None:
    """The passcode and Unlock: training, publishing and making models live for this session."""
    given = st.text_input(_("Passcode"), type="password", key="passcode")
    if st.button(_("Unlock training"), icon=":material/lock_open:"):
        problem = visitor.unlock(given, rules)
        if problem is None:
            st.rerun()
        st.error(problem)
