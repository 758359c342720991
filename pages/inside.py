"""Look inside: what a network "imagines" for each digit, and what its first layer looks for."""
import streamlit as st

from mnistcore.lab.compare import describe_run
from mnistcore.explain.inside import MARGIN, back_query, first_layer_images, hidden_unit_images, spaced
from mnistcore.nets.base import ModelFileError
from ui.chrome import open_page, require_live_model
from ui.text import public
from ui.resources import saved_model, store

UNITS = 24  # hidden units or filters shown
SIDE = 84   # px for each of them: 28 x 28 weights three times, 3 x 3 filters 28 times
BRIEFLY = "(A network trained only briefly still shows much of its random start: noise.)"


open_page("Look inside")
live = require_live_model()
runs = [run for run in store().runs() if run.info is not None]
names = [run.name for run in runs]
labels = {run.name: describe_run(run.name, run.info) + (" (live)" if run.live else "") for run in runs}
if live.name not in names:  # the live model's file became unreadable since it was loaded
    names.insert(0, live.name)
    labels[live.name] = describe_run(live.name, live.info) + " (live)"
name = st.selectbox("Model", names, index=names.index(live.name), format_func=labels.get, key="model",
                    help="The live model, or any model saved on this server.")
try:
    with st.spinner("Loading the model… (a Keras model takes a few seconds the first time)"):
        model = saved_model(name)
except (ModelFileError, ValueError, OSError, ImportError) as err:
    st.error(f"This model cannot be loaded: {public(err)}. Choose another one.")
    st.stop()

if model.info.engine == "numpy":
    st.subheader("What it imagines for each digit")
    st.caption("The tutorial's *back query*: ask the network for a digit at its output and run it backwards, "
               "layer by layer, to the image that would produce it. Bright pixels push towards that digit, "
               "dark ones away from it.")
    imagined = [back_query(model, digit) for digit in range(10)]
    for row in (range(0, 5), range(5, 10)):
        st.image(spaced([imagined[d] for d in row], 140), caption=[str(d) for d in row], width=140 + 2 * MARGIN)

    st.subheader("What its hidden units look for")
    images, units = hidden_unit_images(model, UNITS)
    st.caption(f"The incoming weights of the {len(units)} hidden units (of {model.wih.shape[0]}) with the strongest "
               "weights, each as a 28 × 28 image: light pixels excite the unit, dark ones inhibit it, grey ones "
               "do not matter to it. " + BRIEFLY)
    st.image(spaced(images, SIDE), caption=[f"unit {u}" for u in units], width=SIDE + 2 * MARGIN)
else:
    arch = model.info.settings.get("arch")
    images = first_layer_images(model, UNITS)
    if arch == "cnn":
        st.subheader("What its first convolution looks for")
        st.caption(f"The first {len(images)} of the first layer's 3 × 3 filters, enlarged. Each slides over the "
                   "image and lights up where the picture matches it: light pixels are positive weights, dark "
                   "ones negative. Together they find edges and strokes in every direction.")
        st.image(spaced(images, SIDE), width=SIDE + 2 * MARGIN)
    else:
        st.subheader("What its first layer looks for")
        st.caption(f"The incoming weights of the {len(images)} first-layer units with the strongest weights, each "
                   "as a 28 × 28 image: light pixels excite the unit, dark ones inhibit it, grey ones do not matter. "
                   + BRIEFLY)
        st.image(spaced(images, SIDE), width=SIDE + 2 * MARGIN)
