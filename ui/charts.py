"""The Train page's learning curves, drawn: loss and accuracy side by side (the data from
mnistcore.lab.curves, the look here)."""
from __future__ import annotations

import altair as alt
import streamlit as st

from mnistcore.lab.curves import TEST, TEST_SAMPLE, TRAINING, Trail, curve_table, epochs_shown, loss_above_note, zoomed
from ui.text import N_, _

COLOURS = {TRAINING: "#e8590c", TEST: "#1c7ed6"}  # orange vs blue
SAMPLE_NOTE = N_("Within an epoch the test figures are measured on 1,000 test images (hollow points), at each "
                 "epoch's end on all 10,000.")
MEASURES = {"loss": N_("loss"), "accuracy": N_("accuracy")}


def trail(run) -> list:
    """What this session has seen of `run`'s epoch in progress (kept across the page's redraws)."""
    return st.session_state.setdefault("trail", Trail()).follow(run)


def curves(run, points=()) -> None:
    """`run`'s loss and accuracy curves, with `points` within epochs (Progress records)."""
    table = curve_table(run, points)
    if table.empty:
        st.caption(_("The curves start after the first few batches."))
        return
    shown = epochs_shown(run, table)
    above = loss_above_note(table)  # from the curves' own names, before the chart's translated ones
    x = alt.X("epochs:Q", title=_("epochs"), scale=alt.Scale(domain=[0, shown], nice=False),
              axis=alt.Axis(format="~g", tickMinStep=0.25 if shown <= 2 else 1))
    left, right = st.columns(2)
    # One legend entry per curve: the test points on a sample are the test curve too, drawn hollow.
    sampled = (table.curve == TEST_SAMPLE).any()
    # The legend and tooltips name the curves in the visitor's language; the colours follow the curve.
    table = table.assign(line=table.curve.replace({TEST_SAMPLE: TEST}), whole=table.curve != TEST_SAMPLE)
    curves_shown = sorted(table.line.unique())
    names = [_(c) for c in curves_shown]
    table = table.assign(line=table.line.map(_), curve=table.curve.map(_))
    colour = alt.Color("line:N", title=None, legend=alt.Legend(orient="bottom"),
                       scale=alt.Scale(domain=names, range=[COLOURS[c] for c in curves_shown]))
    filled = alt.Fill("line:N", legend=None, scale=alt.Scale(domain=names, range=[COLOURS[c] for c in curves_shown]))
    hollow = alt.condition("datum.whole", filled, alt.value("white"))
    for column, measure in ((left, "loss"), (right, "accuracy")):
        part = table[table.measure == measure]
        if part.empty:
            continue
        accuracy = measure == "accuracy"
        fine = accuracy and part.value.max() - part.value.min() < 0.1
        y = alt.Y("value:Q", title=_(MEASURES[measure]),
                  scale=alt.Scale(domain=zoomed(part.value, 0, 1 if accuracy else None)),
                  axis=alt.Axis(format=(".1%" if fine else ".0%") if accuracy else ".2~f"))
        base = alt.Chart(part).encode(x=x, y=y, color=colour,
                                      tooltip=[alt.Tooltip("epochs:Q", title=_("epochs")),
                                               alt.Tooltip("curve:N", title=_("curve")),
                                               alt.Tooltip("value:Q", title=_(MEASURES[measure]), format=".4f")])
        chart = base.mark_line() + base.mark_point(filled=True, size=30).encode(fill=hollow)
        column.altair_chart(chart.properties(height=220), width="stretch")
    notes = [_(SAMPLE_NOTE) if sampled else None, above]
    if any(notes):
        st.caption(" ".join(note for note in notes if note))
