"""Look inside: what a network sees in each digit, what its first layer looks for, and, for a
convnet, what it sees in the visitor's own drawing."""
import streamlit as st

from mnistcore.explain.convnet import MAPS_SHOWN, feature_maps, strongest_maps
from mnistcore.explain.imagine import SAMPLE, STEPS, SUREST, digit_pictures, digit_pictures_ready
from mnistcore.explain.inside import (BACK_QUERY, CONV_FILTERS, FEATURE_MAPS, FIRST_LAYER_UNITS, HIDDEN_UNITS, MARGIN,
                                     back_query, first_layer_images, hidden_unit_images, shows, spaced)
from ui.chrome import open_page, require_live_model
from ui.resources import mnist, model_choices, saved_model
from ui.text import public

UNITS = 24  # hidden units shown
FILTERS = 15  # convolution filters shown: one row on a wide screen, three rows of five on a phone
SIDE = 84   # px for each hidden unit: 28 x 28 weights three times
FILTER = 54  # px for each filter: 3 x 3 weights 18 times, five to a row on a phone
DIGIT = 56  # px for each digit of the two sets: ten to a row on a wide screen, five on a phone
MAP = 78    # px for each feature map: 26 x 26 three times, 11 x 11 seven times; four to a row on a phone
DIGITS = [str(d) for d in range(10)]
BRIEFLY = "(A network trained only briefly still shows much of its random start: noise.)"


open_page("Look inside")
live = require_live_model()
labels = model_choices(live)
names = list(labels)
name = st.selectbox("Model", names, index=names.index(live.name), format_func=labels.get, key="model",
                    help="The live model, or any model saved on this server.")
try:
    with st.spinner("Loading the model… (a Keras model takes a few seconds the first time)"):
        model = saved_model(name)
except (ValueError, OSError, ImportError) as err:  # a ModelFileError is a ValueError
    st.error(f"This model cannot be loaded: {public(err)}. Choose another one.")
    st.stop()
(_, _), (x_test, _) = mnist()

st.subheader("What it sees in each digit")
if digit_pictures_ready(model):  # remembered per model: later views, by anyone, need no spinner
    surest, imagined = digit_pictures(model, x_test)
else:
    with st.spinner("Looking at how this model sees each digit… (the first time for each model: a few seconds)"):
        surest, imagined = digit_pictures(model, x_test)
# The two sets one above the other: on a wide screen each is one row, so each digit's two pictures
# stand one above the other; on a phone each set is two rows of five.
st.markdown("**Real digits it is surest about**")
st.image(spaced(surest, DIGIT), caption=DIGITS, width=DIGIT + 2 * MARGIN)
st.caption(f"Each picture is the average of the {SUREST} handwritten digits (of {SAMPLE:,} from MNIST's "
           "test set) that this model is surest show that digit: what the digit looks like to it, "
           "among real handwriting.")
st.markdown("**Digits it makes up**")
if imagined is None:
    st.info("This kind of model cannot make up digits here.")
else:
    st.image(spaced(imagined, DIGIT), caption=DIGITS, width=DIGIT + 2 * MARGIN)
    st.caption(f"Made by the computer, starting from a dark grey picture: {STEPS} small changes to the pixels, "
               "each making the model a little surer it sees that digit. After each change the picture is "
               "blurred and dimmed a little, so only the strokes the model needs most stay bright; at the "
               "end it is brightened so its brightest pixel is white.")

views = shows(model)
if BACK_QUERY in views and model.info.settings.get("activation") == "sigmoid":
    with st.expander("The tutorial's back query"):
        st.caption("The tutorial's *back query*: ask the network for a digit at its output and run it "
                   "backwards, layer by layer, to the image that would produce it. Bright pixels push "
                   "towards that digit, dark ones away from it. (It works for the tutorial's sigmoid "
                   "network; for other networks it shows noise.)")
        st.image(spaced([back_query(model, d) for d in range(10)], DIGIT), caption=DIGITS, width=DIGIT + 2 * MARGIN)

if CONV_FILTERS in views:
    st.subheader("What its first convolution looks for")
    images = first_layer_images(model, FILTERS)
    st.caption(f"The first {len(images)} of the first layer's 3 × 3 filters, enlarged. Each slides over the "
               "image and lights up where the picture matches it: light pixels are positive weights, dark "
               "ones negative. Together they find edges and strokes in every direction.")
    st.image(spaced(images, FILTER), width=FILTER + 2 * MARGIN)

if FEATURE_MAPS in views:
    st.subheader("What it sees in your drawing")
    drawing = st.session_state.get("last_digit")  # the Draw page's last drawing, made MNIST-like
    try:
        layers = feature_maps(model, drawing) if drawing is not None else None
    except ValueError:  # not a (28, 28) image in [0, 1]: show the MNIST digit instead
        layers = None
    shown_as = "your drawing"
    if layers is None:
        st.info("Draw a digit on the Draw page to see your own here. Until then, this is a digit from MNIST.")
        drawing, shown_as = x_test[0], "from MNIST"
        layers = feature_maps(model, drawing)
    st.image(spaced([drawing], MAP), caption=[shown_as], width=MAP + 2 * MARGIN)
    for number, (_, maps) in enumerate(layers, start=1):
        shown, filters = strongest_maps(maps)
        tiles = spaced(shown, MAP)  # 26 x 26 maps three times (78 px), 11 x 11 seven times (77 px)
        st.markdown(f"**Convolution {number}**: the {len(shown)} strongest of its {maps.shape[2]} maps")
        st.image(tiles, caption=[f"filter {f}" for f in filters], width=tiles[0].shape[1])
    st.caption(f"Each map is one filter's answer at every place of the picture: bright where the picture has "
               f"what the filter looks for. Convolution 1 looks at the picture itself and finds edges and "
               f"strokes; convolution 2 looks at those maps, so it finds larger shapes, on a coarser grid. "
               f"Shown: the {MAPS_SHOWN} brightest maps of each, all on one brightness scale.")

if HIDDEN_UNITS in views:
    st.subheader("What its hidden units look for")
    images, units = hidden_unit_images(model, UNITS)
    st.caption(f"The incoming weights of the {len(units)} hidden units (of {model.wih.shape[0]}) with the strongest "
               "weights, each as a 28 × 28 image: light pixels excite the unit, dark ones inhibit it, grey ones "
               "do not matter to it. " + BRIEFLY)
    st.image(spaced(images, SIDE), caption=[f"unit {u}" for u in units], width=SIDE + 2 * MARGIN)

if FIRST_LAYER_UNITS in views:
    st.subheader("What its first layer looks for")
    images = first_layer_images(model, UNITS)
    st.caption(f"The incoming weights of the {len(images)} first-layer units with the strongest weights, each "
               "as a 28 × 28 image: light pixels excite the unit, dark ones inhibit it, grey ones do not matter. "
               + BRIEFLY)
    st.image(spaced(images, SIDE), width=SIDE + 2 * MARGIN)
