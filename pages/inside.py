"""Look inside: what a network sees in each digit, what its first layer looks for, and, for a
convnet, what it sees in the visitor's own drawing."""
import streamlit as st

from mnistcore.explain.convnet import MAPS_SHOWN, feature_maps, strongest_maps
from mnistcore.explain.imagine import SAMPLE, STEPS, SUREST, digit_pictures, digit_pictures_ready
from mnistcore.explain.inside import (BACK_QUERY, CONV_FILTERS, FEATURE_MAPS, FIRST_LAYER_UNITS, HIDDEN_UNITS, MARGIN,
                                     back_query, first_layer_images, hidden_unit_images, shows, spaced)
from ui.chrome import open_page, require_live_model
from ui.resources import mnist, model_choices, saved_model
from ui.text import N_, _, choose, number, public

UNITS = 24  # hidden units shown
FILTERS = 15  # convolution filters shown: one row on a wide screen, three rows of five on a phone
SIDE = 84   # px for each hidden unit: 28 x 28 weights three times
FILTER = 54  # px for each filter: 3 x 3 weights 18 times, five to a row on a phone
DIGIT = 56  # px for each digit of the two sets: ten to a row on a wide screen, five on a phone
MAP = 78    # px for each feature map: 26 x 26 three times, 11 x 11 seven times; four to a row on a phone
DIGITS = [str(d) for d in range(10)]
BRIEFLY = N_("(A network trained only briefly still shows much of its random start: noise.)")
# The tutorial's words, as every page uses them: (term, what it means).
GLOSSARY = [
    (N_("Neural network"), N_("Layers of simple units joined by weights; it learns by changing the weights.")),
    (N_("Weight"), N_("How strongly one unit's output pushes the next unit: positive excites, negative inhibits.")),
    (N_("Hidden layer"), N_("The units between the input pixels and the ten outputs; no one tells them what to "
                            "look for.")),
    (N_("Training"), N_("Showing the network labelled digits and nudging its weights to make fewer mistakes.")),
    (N_("Learning rate"), N_("How big each nudge of the weights is during training.")),
    (N_("Test set"), N_("{count} digits kept apart from training, to measure the network fairly.")),
    (N_("Accuracy"), N_("The share of the test set the network reads right.")),
    (N_("Back query"), N_("Running the network backwards from an answer, to see the image that would give it.")),
    (N_("Convolution"), N_("A small filter slid over the whole picture, lighting up where the picture matches it.")),
]


open_page(N_("Look inside"))
live = require_live_model()
labels = model_choices(live)
names = list(labels)
name = choose(st.selectbox, _("Model"), names, default=live.name, format_func=labels.get, key="model",
              help=_("The live model, or any model saved on this server."))
try:
    with st.spinner(_("Loading the model… (a Keras model takes a few seconds the first time)")):
        model = saved_model(name)
except (ValueError, OSError, ImportError) as err:  # a ModelFileError is a ValueError
    st.error(_("This model cannot be loaded: {error}. Choose another one.").format(error=public(err)))
    st.stop()
x_test = mnist()[1][0]  # the test images

with st.popover(_("Words used on this site"), icon=":material/menu_book:"):  # the tutorial's terms
    st.markdown("\n".join(f"- **{_(term)}**: {_(meaning).format(count=number(10_000))}" for term, meaning in GLOSSARY))

st.header(_("What it sees in each digit"), anchor=False)
if digit_pictures_ready(model):  # remembered per model: later views, by anyone, need no spinner
    surest, imagined = digit_pictures(model, x_test)
else:
    with st.spinner(_("Looking at how this model sees each digit… (the first time for each model: a few seconds)")):
        surest, imagined = digit_pictures(model, x_test)
# The two sets one above the other: on a wide screen each is one row, so each digit's two pictures
# stand one above the other; on a phone each set is two rows of five.
st.markdown("**" + _("Real digits it is surest about") + "**")
st.image(spaced(surest, DIGIT), caption=DIGITS, width=DIGIT + 2 * MARGIN,
         alt=[_("The average of the real digits this model is surest are a {digit}").format(digit=d) for d in DIGITS])
st.caption(_("Each picture is the average of the {surest} handwritten digits (of {sample} from MNIST's test set) "
             "that this model is surest show that digit: what the digit looks like to it, among real "
             "handwriting.").format(surest=SUREST, sample=number(SAMPLE)))
st.markdown("**" + _("Digits it makes up") + "**")
if imagined is None:
    st.info(_("This kind of model cannot make up digits here."))
else:
    st.image(spaced(imagined, DIGIT), caption=DIGITS, width=DIGIT + 2 * MARGIN,
             alt=[_("A {digit} as this model imagines it, made up pixel by pixel").format(digit=d) for d in DIGITS])
    st.caption(_("Made by the computer, starting from a dark grey picture: {steps} small changes to the pixels, "
                 "each making the model a little surer it sees that digit. After each change the picture is "
                 "blurred and dimmed a little, so only the strokes the model needs most stay bright; at the "
                 "end it is brightened so its brightest pixel is white.").format(steps=STEPS))

views = shows(model)
if BACK_QUERY in views and model.info.settings.get("activation") == "sigmoid":
    with st.expander(_("The tutorial's back query")):
        st.caption(_("The tutorial's *back query*: ask the network for a digit at its output and run it "
                     "backwards, layer by layer, to the image that would produce it. Bright pixels push "
                     "towards that digit, dark ones away from it. (It works for the tutorial's sigmoid "
                     "network; for other networks it shows noise.)"))
        st.image(spaced([back_query(model, d) for d in range(10)], DIGIT), caption=DIGITS, width=DIGIT + 2 * MARGIN,
                 alt=[_("The back query's image for {digit}").format(digit=d) for d in DIGITS])

if CONV_FILTERS in views:
    st.header(_("What its first convolution looks for"), anchor=False)
    images = first_layer_images(model, FILTERS)
    st.caption(_("The first {count} of the first layer's 3 × 3 filters, enlarged. Each slides over the image and "
                 "lights up where the picture matches it: light pixels are positive weights, dark ones negative. "
                 "Together they find edges and strokes in every direction.").format(count=len(images)))
    st.image(spaced(images, FILTER), width=FILTER + 2 * MARGIN,
             alt=[_("Filter {number}'s 3 × 3 weights").format(number=f) for f in range(len(images))])

if FEATURE_MAPS in views:
    st.header(_("What it sees in your drawing"), anchor=False)
    drawing = st.session_state.get("last_digit")  # the Draw page's last drawing, made MNIST-like
    try:
        layers = feature_maps(model, drawing) if drawing is not None else None
    except ValueError:  # not a (28, 28) image in [0, 1]: show the MNIST digit instead
        layers = None
    shown_as, said = _("your drawing"), _("Your drawing, made MNIST-like")
    if layers is None:
        st.info(_("Draw a digit on the Draw page to see your own here. Until then, this is a digit from MNIST."))
        drawing, shown_as, said = x_test[0], _("from MNIST"), _("A handwritten 7 from MNIST's test set")
        layers = feature_maps(model, drawing)
    st.image(spaced([drawing], MAP), caption=[shown_as], width=MAP + 2 * MARGIN, alt=said)
    for layer, (_name, maps) in enumerate(layers, start=1):
        shown, filters = strongest_maps(maps)
        tiles = spaced(shown, MAP)  # 26 x 26 maps three times (78 px), 11 x 11 seven times (77 px)
        st.markdown(_("**Convolution {number}**: the {shown} strongest of its {count} maps").format(
            number=layer, shown=len(shown), count=maps.shape[2]))
        st.image(tiles, caption=[_("filter {number}").format(number=f) for f in filters], width=tiles[0].shape[1],
                 alt=[_("Convolution {layer}, filter {number}: where it lights up on the drawing").format(
                     layer=layer, number=f) for f in filters])
    st.caption(_("Each map is one filter's answer at every place of the picture: bright where the picture has "
                 "what the filter looks for. Convolution 1 looks at the picture itself and finds edges and "
                 "strokes; convolution 2 looks at those maps, so it finds larger shapes, on a coarser grid. "
                 "Shown: the {count} brightest maps of each, all on one brightness scale.").format(count=MAPS_SHOWN))

if HIDDEN_UNITS in views:
    st.header(_("What its hidden units look for"), anchor=False)
    images, units = hidden_unit_images(model, UNITS)
    st.caption(_("The incoming weights of the {count} hidden units (of {total}) with the strongest weights, each as "
                 "a 28 × 28 image: light pixels excite the unit, dark ones inhibit it, grey ones do not matter to "
                 "it.").format(count=len(units), total=model.wih.shape[0]) + " " + _(BRIEFLY))
    st.image(spaced(images, SIDE), caption=[_("unit {number}").format(number=u) for u in units],
             width=SIDE + 2 * MARGIN, alt=[_("Hidden unit {number}'s weights, as a picture").format(number=u)
                                           for u in units])

if FIRST_LAYER_UNITS in views:
    st.header(_("What its first layer looks for"), anchor=False)
    images = first_layer_images(model, UNITS)
    st.caption(_("The incoming weights of the {count} first-layer units with the strongest weights, each as a "
                 "28 × 28 image: light pixels excite the unit, dark ones inhibit it, grey ones do not "
                 "matter.").format(count=len(images)) + " " + _(BRIEFLY))
    st.image(spaced(images, SIDE), width=SIDE + 2 * MARGIN,
             alt=[_("A first-layer unit's weights, as a picture") for _unit in range(len(images))])
