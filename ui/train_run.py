"""The Train page's runs: the one training now (progress, curves, Stop, the queue), what came of this
visitor's last run (how good it is, Publish), and the earlier models (Make live)."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from mnistcore.lab import config
from mnistcore.lab import publish as policy
from mnistcore.lab.model_list import models_table, recipe, shown_columns
from mnistcore.lab.slot.runs import NOTES
from mnistcore.training import STOP_REASONS, describe_seconds, estimate_phases
from ui.charts import curves, trail
from ui.chrome import now, when
from ui.language import use
from ui.resources import class_board, slot, store
from ui.text import N_, _, choose, ngettext, percent, public, restated, visitor_name
from ui.train_form import timings


@st.fragment(run_every=1.0)
def progress_panel(run_id: str, me) -> None:
    """Redrawn every second from the slot's snapshot; the rest of the page stays as it is.

    Each redraw is also this visitor's heartbeat: when their tab closes the redraws stop, and the
    slot stops their run (or drops their place in the queue) after a while.
    """
    use()  # a fragment's rerun runs only this function: its words need the visitor's language too
    slot().heartbeat(me.id)
    view = slot().view(me.id)
    status = view.current
    if status is None or status.run_id != run_id:
        st.rerun()  # the run has ended (or the next one began): redraw the whole page
    mine = status.owner == me.id
    who = (_("Your model is training") if mine
           else _("{name}'s model is training").format(name=visitor_name(status.label)))
    st.header(who, anchor=False)
    st.caption(_("{settings}. Started at {time}.").format(settings=status.settings.describe(),
                                                          time=when(status.started_at)))
    remaining = describe_seconds((status.expected_end - now()).total_seconds())
    if status.settings.network.tensorflow and status.fraction == 0:
        # Nothing moves while TensorFlow loads: say so, rather than sit at "0% done".
        start, _training = estimate_phases(status.settings, timings=timings())
        left = start - (now() - status.started_at).total_seconds()
        st.progress(0.0, text=ngettext("Loading TensorFlow… {time}. Then {epochs} epoch of training.",
                                       "Loading TensorFlow… {time}. Then {epochs} epochs of training.",
                                       status.settings.epochs).format(
            time=describe_seconds(left) if left > 0 else _("almost done"), epochs=status.settings.epochs))
    else:
        st.progress(status.fraction, text=_("Epoch {epoch} of {epochs}: {done} done. Expected to finish in "
                                            "{remaining} (around {time}).").format(
            epoch=status.epoch, epochs=status.settings.epochs, done=percent(status.fraction), remaining=remaining,
            time=when(status.expected_end)))
    if status.batch_loss is not None:
        a, b = st.columns(2)
        a.metric(_("Loss (this epoch so far)"), f"{status.batch_loss:.3f}")
        b.metric(_("Training accuracy (this epoch so far)"), percent(status.batch_accuracy, 1))
    curves(status, status.points or trail(status))
    if mine:
        st.caption(_("Keep this tab open: the run stops if the tab is closed. The live model changes only if "
                     "you publish the result."))
        if st.button(_("Stop"), icon=":material/stop:", help=_("Ends the run after the current batch. "
                                                                "The live model does not change.")):
            slot().stop(run_id)
    queue_panel(view)


def queue_panel(view) -> None:
    """Who is waiting, and this visitor's own place with a Leave button."""
    if not view.queue:
        return
    st.markdown(_("**Waiting ({taken} of {places} places taken)**").format(taken=len(view.queue),
                                                                          places=view.queue_size))
    st.markdown("\n".join(_("{place}. {who}: {settings}; should start around {time}").format(
        place=w.position, who=_("You") if w is view.place else visitor_name(w.label), settings=w.settings.describe(),
        time=when(w.expected_start)) for w in view.queue))
    place = view.place
    if place is not None:
        st.info(_("You are number {place} in the queue. Your run starts by itself around {time}; keep this tab "
                  "open to keep your place.").format(place=place.position, time=when(place.expected_start)),
                icon=":material/hourglass_top:")
        if st.button(_("Leave the queue"), icon=":material/close:"):
            slot().cancel(place.owner)
            st.rerun()


def outcome(status, live, rules, allowed: bool) -> None:
    """What came of this visitor's last run: how good it is against the class and the live model,
    "Try it on Draw", and (for whoever may change the live model) Publish.

    The model is the visitor's own (the class board keeps it); only a model that reads few digits
    right, or gives one answer to everything, is shown as a problem. Publishing a model worse than
    the live one needs a confirmation that names both accuracies (mnistcore.lab.publish).
    """
    if status.state == "failed":
        st.error(_("Training failed: {problem}\n\nTry other settings, or try again later.").format(
            problem=restated(status.error, NOTES)))
        return
    result = slot().result(status.run_id)
    reason = restated(result.stop_reason, STOP_REASONS) if result is not None else None
    if reason:
        st.error(reason, icon=":material/error:")
    elif status.state == "stopped":
        done, asked = len(status.history), status.settings.epochs
        why = restated(status.note, NOTES) or _("You stopped the run.")
        stopped = ngettext("It stopped after {done} of {asked} epoch.", "It stopped after {done} of {asked} epochs.",
                           asked).format(done=done, asked=asked)
        st.warning(f"{why} {stopped}" +
                   ("" if status.can_publish or status.published_as else _(" No model came out of it.")))
    if status.test_accuracy is None or result is None or result.evaluation is None:
        return
    st.header(_("Your model"), anchor=False)
    live_accuracy = live.info.test_accuracy if live is not None else None
    check = policy.check_publish(status.test_accuracy, live_accuracy, config.publish_floor())
    trained = describe_trained(status)
    lopsided = policy.one_answer(result.evaluation.confusion)
    place = class_place(status.run_id)
    against = (_(" The live model reads {accuracy}.").format(accuracy=percent(live_accuracy, 2))
               if live_accuracy is not None else "")
    red = bool(lopsided) or status.test_accuracy < config.publish_floor()  # reads too few digits to go live
    if status.published_as:  # live.json read afresh: another process may have published since
        now = _("it is the live model now") if store().live_name() == status.published_as else \
            _("another model has been made live since")
        st.success(_("Test accuracy: **{accuracy}**. Published: {now} (saved as {name}). {trained}.").format(
            accuracy=percent(status.test_accuracy, 2), now=now, name=status.published_as, trained=trained))
    elif red:
        says = _(" It answers “{digit}” for {share} of the test images.").format(
            digit=lopsided[0], share=percent(lopsided[1])) if lopsided else ""
        st.error(_("**{headline}** {warning}{says} {place} {trained}.").format(
            headline=check.headline, warning=check.warning, says=says, place=place, trained=trained),
            icon=":material/thumb_down:")
    else:
        st.success(_("**It reads {accuracy} of the 10,000 test digits right.** {place}{against} {trained}.").format(
            accuracy=percent(status.test_accuracy, 2), place=place, against=against, trained=trained),
            icon=":material/school:")
    st.page_link("pages/draw.py", label=_("Try it on Draw"), icon=":material/draw:",
                 help=_("Your model reads your drawings, for you alone; the live model stays as it is."))
    curves(status, result.points)
    ev = result.evaluation
    st.markdown(_("**Accuracy for each digit**"))
    per_digit = pd.DataFrame({_("accuracy"): ev.per_digit}, index=[str(d) for d in range(10)])
    st.bar_chart(per_digit, x_label=_("digit"), y_label=_("accuracy"), height=220)
    st.markdown(_("**Confusion matrix**: each row is a true digit, each column what the model said; "
                  "the diagonal holds the right answers."))
    st.dataframe(pd.DataFrame(ev.confusion, index=[_("true {digit}").format(digit=d) for d in range(10)],
                              columns=[_("said {digit}").format(digit=d) for d in range(10)]))
    if status.published_as:
        return
    if not allowed:
        st.info(_("Publishing is off in this demo: the live model stays as it is. Your model is yours: it answers "
                  "on Draw for you alone, and whoever runs the lab can make a model live from the class board."),
                icon=":material/lock:")
        return
    if not check.good and not red:  # a red box above has said it already
        st.caption(f"{check.headline} {check.warning}")
    if guarded_button(check, rules, "publish", _("Publish: make it the live model"), ":material/publish:",
                      _("Everybody's Gallery and Draw pages will use it. Earlier models stay listed below."),
                      anyway=_("Publish anyway")):
        try:
            slot().publish(status.run_id, store())
        except (ValueError, OSError) as err:
            st.error(_("Could not publish: {problem}").format(problem=public(err)))
            return
        st.rerun()


def class_place(run_id: str) -> str:
    """Where a run's model stands in the class, in words ("2nd of 5 models trained in this lab.")."""
    entries = class_board().entries()
    rank = next((i for i, entry in enumerate(entries, 1) if entry.run_id == run_id), None)
    if rank is None:
        return ""
    if len(entries) == 1:
        return _("The first model trained in this class.")
    best = entries[0]
    top = "" if rank == 1 else _(" (the best: {accuracy}, {name}'s)").format(
        accuracy=percent(best.test_accuracy, 2), name=visitor_name(best.label))
    return _("{place} of {count} models trained in this class{top}.").format(place=ordinal(rank), count=len(entries),
                                                                             top=top)


ORDINALS = {"st": N_("{n}st"), "nd": N_("{n}nd"), "rd": N_("{n}rd"), "th": N_("{n}th")}  # 第 {n} in Chinese


def ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return _(ORDINALS[suffix]).format(n=n)


def describe_trained(status) -> str:
    """The settings, with the epochs the run really did ("stopped after 1 of 3 epochs")."""
    done, asked = len(status.history), status.settings.epochs
    text = status.settings.describe()
    return text if done >= asked else ngettext("{settings} (stopped after {done} of {asked} epoch)",
                                               "{settings} (stopped after {done} of {asked} epochs)",
                                               asked).format(settings=text, done=done, asked=asked)


def guarded_button(check, rules, key: str, label: str, icon: str, help: str, demo: bool | None = None,
                   anyway: str | None = None) -> bool:
    """A button that changes the live model, under the publish rule: True when clicked and allowed.

    A good model: a plain primary button. A risky one: refused in demo mode; otherwise a box to
    tick that names both accuracies, and a secondary "... anyway" button that works only once ticked.
    `anyway`: the second button's words (else "<label> anyway").
    `demo`: whether demo mode's refusal applies (default: `rules.demo`); the class board's operator,
    who chooses among the class's models on purpose, confirms instead.
    """
    demo = rules.demo if demo is None else demo
    if check.good:
        return st.button(label, type="primary", icon=icon, help=help, key=f"{key}-go")
    refused = policy.refusal(check, demo=demo, confirmed=True)
    if refused:
        st.info(refused, icon=":material/lock:")
        return False
    confirmed = st.checkbox(check.confirm, key=f"{key}-confirm")
    clicked = st.button(anyway or _("{action} anyway").format(action=label), icon=icon, help=help, key=f"{key}-go",
                        disabled=not confirmed)
    refused = policy.refusal(check, demo=demo, confirmed=confirmed)
    if clicked and refused:  # checked again on the click itself: a stale page must not slip through
        st.error(refused)
        return False
    return clicked


def earlier_runs(live, rules, allowed: bool) -> None:
    st.header(_("Earlier models"), anchor=False)
    models = store()
    runs = models.runs()
    st.dataframe(shown_columns(models_table(runs)), hide_index=True)
    usable = policy.best_first([run for run in runs if run.info is not None and not run.live],
                               lambda run: run.info.test_accuracy)
    if not usable or not allowed:
        return
    labels = {run.name: (_("shipped default: ") if run.is_default else "") + run.info.summary() for run in usable}
    picked = choose(st.selectbox, _("Make an earlier model live again (the best first)"), labels,
                    format_func=labels.get, key="revert")
    chosen = next(run for run in usable if run.name == picked)
    check = policy.check_publish(chosen.info.test_accuracy, live.info.test_accuracy if live is not None else None,
                           config.publish_floor())
    if not check.good:
        st.warning(f"{check.headline} {check.warning}", icon=":material/warning:")
    if guarded_button(check, rules, f"revert-{picked}", _("Make live"), ":material/restore:",
                      _("Everybody's Gallery and Draw pages will use it.")):
        try:
            made = models.make_live(picked)
        except (ValueError, OSError) as err:  # ModelFileError is a ValueError
            st.error(_("Could not make that model live: {problem}").format(problem=public(err)))
            return
        st.session_state.notice = _("The live model is now: {model}.").format(model=made.info.summary())
        st.rerun()


def make_class_model_live(entries, live, rules) -> None:
    """For whoever may change the live model: pick a model of the class board and make it live."""
    labels = {entry.run_id: f"{visitor_name(entry.label)}: {percent(entry.test_accuracy, 2)}, {recipe(entry)}"
              for entry in entries}
    picked = choose(st.selectbox, _("Make a model live for everyone"), labels, format_func=labels.get, key="class-pick")
    entry = next(entry for entry in entries if entry.run_id == picked)
    check = policy.check_publish(entry.test_accuracy, live.info.test_accuracy if live is not None else None,
                                 config.publish_floor())
    if not check.good:
        st.caption(f"{check.headline} {check.warning}")
    if guarded_button(check, rules, f"class-{picked}", _("Make live"), ":material/publish:",
                      _("Everybody's Gallery and Draw pages will use it."), demo=False):
        try:
            made = store().publish(class_board().model(picked))
        except (ValueError, OSError) as err:  # ModelFileError is a ValueError
            st.error(_("Could not make that model live: {problem}").format(problem=public(err)))
            return
        st.session_state.notice = _("{name}'s model is live now: {model}.").format(name=visitor_name(entry.label),
                                                                                  model=made.info.summary())
        st.rerun()
