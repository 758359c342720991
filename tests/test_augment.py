"""mnistcore.augment: each distortion does what it says, on real MNIST digits, and a network trained
with them still learns."""
import numpy as np
import pytest
from scipy import ndimage

from mnistcore.augment import ROBUST, Distortions, _filter, elastic_field, make_augment, thicker, thinner, warp
from mnistcore.nets import build_model
from mnistcore.nets.base import augmented

NONE = Distortions(rotate=0, shear=0, scale=(1, 1), shift=0, thicker=0, thinner=0, elastic=0)


def batch_of(images: np.ndarray) -> np.ndarray:
    return (images.reshape(len(images), 784) / 255).astype(np.float32)


def ink_angle(image: np.ndarray) -> float:
    """The direction of the ink's main axis, degrees counter-clockwise from the x axis, on screen."""
    ys, xs = np.mgrid[:28, :28]
    weights = image.ravel()
    points = np.column_stack([xs.ravel(), -ys.ravel()])  # y up, as angles are measured
    mean = weights @ points / weights.sum()
    centred = points - mean
    cov = (centred * weights[:, None]).T @ centred
    _, vectors = np.linalg.eigh(cov)
    x, y = vectors[:, 1]
    return float(np.degrees(np.arctan2(y, x))) % 180


def centre_of_mass(image: np.ndarray) -> np.ndarray:
    ys, xs = np.mgrid[:28, :28]
    return np.array([(ys * image).sum(), (xs * image).sum()]) / image.sum()


def ones(mnist, count=20):
    """Real 1s written nearly upright: long and thin, so their main axis is well defined."""
    (x, y), _ = mnist
    found = [image for image in x[y == 1][:200] if abs(ink_angle(image / 255.0) - 90) < 10]
    return np.stack(found[:count]).astype(np.float32) / 255


def test_a_batch_comes_back_float32_in_range_and_the_input_is_untouched(small_mnist):
    (x, _), _ = small_mnist
    batch = batch_of(x[:128])
    before = batch.copy()
    out = make_augment(ROBUST)(batch, np.random.default_rng(0))
    assert out.shape == (128, 784) and out.dtype == np.float32
    assert out.min() >= 0.0 and out.max() <= 1.0 and np.isfinite(out).all()
    np.testing.assert_array_equal(batch, before)
    assert np.abs(out - batch).mean() > 0.02  # it did change them
    # What every engine checks before it trains on a batch (mnistcore.nets.base.augmented):
    augmented(make_augment(ROBUST), batch, np.random.default_rng(0))


def test_the_same_seed_gives_the_same_distortions_and_another_seed_others(small_mnist):
    (x, _), _ = small_mnist
    batch = batch_of(x[:64])
    augment = make_augment(ROBUST)
    first = augment(batch, np.random.default_rng(7))
    np.testing.assert_array_equal(first, augment(batch, np.random.default_rng(7)))
    assert not np.array_equal(first, augment(batch, np.random.default_rng(8)))


def test_no_distortion_and_a_zero_fraction_leave_images_as_they_are(small_mnist):
    (x, _), _ = small_mnist
    batch = batch_of(x[:32])
    np.testing.assert_allclose(make_augment(NONE)(batch, np.random.default_rng(0)), batch, atol=1e-6)
    np.testing.assert_array_equal(make_augment(Distortions(fraction=0))(batch, np.random.default_rng(0)), batch)


def test_a_fraction_distorts_about_that_share_of_the_batch(small_mnist):
    (x, _), _ = small_mnist
    batch = batch_of(x[:400])
    out = make_augment(Distortions(fraction=0.5))(batch, np.random.default_rng(0))
    changed = np.abs(out - batch).max(axis=1) > 1e-6
    assert 0.4 < changed.mean() < 0.6


@pytest.mark.parametrize("angle", [-20.0, 12.0, 25.0])
def test_rotation_turns_the_ink_s_main_axis_by_the_angle(mnist, angle):
    images = ones(mnist)
    turned = warp(images, angle)
    change = [(ink_angle(after) - ink_angle(before) + 90) % 180 - 90 for before, after in zip(images, turned)]
    assert abs(np.median(change) - angle) < 3, change  # counter-clockwise is positive


def test_shear_leans_an_upright_stroke(mnist):
    images = ones(mnist)
    leaned = warp(images, 0.0, shear=0.3)  # x moves by 0.3 * y: the top (y < 0) goes left
    change = [(ink_angle(after) - ink_angle(before) + 90) % 180 - 90 for before, after in zip(images, leaned)]
    assert abs(np.median(change) - np.degrees(np.arctan(0.3))) < 4, change


def test_shift_moves_the_centre_of_mass_by_the_shift(small_mnist):
    (x, _), _ = small_mnist
    images = x[:40].astype(np.float32) / 255
    inside = (images[:, :3].sum(axis=(1, 2)) == 0) & (images[:, -3:].sum(axis=(1, 2)) == 0)
    images = images[inside & (images[:, :, :2].sum(axis=(1, 2)) == 0)]  # room to move: none cut off
    assert len(images) >= 20
    moved = warp(images, 0.0, shift=(2.5, -1.5))
    for before, after in zip(images, moved):
        np.testing.assert_allclose(centre_of_mass(after) - centre_of_mass(before), [2.5, -1.5], atol=0.1)


def test_scale_changes_the_digit_s_size_by_the_factor(small_mnist):
    (x, _), _ = small_mnist
    images = x[:20].astype(np.float32) / 255

    def spread(image):  # RMS distance of the ink from its centre of mass
        ys, xs = np.mgrid[:28, :28]
        cy, cx = centre_of_mass(image)
        return np.sqrt((((ys - cy) ** 2 + (xs - cx) ** 2) * image).sum() / image.sum())

    for factor in (0.7, 1.15):
        ratios = [spread(after) / spread(before) for before, after in zip(images, warp(images, 0.0, scale=factor))]
        assert abs(np.median(ratios) - factor) < 0.05, (factor, ratios)


def test_thicker_and_thinner_change_the_ink_s_area(small_mnist):
    (x, _), _ = small_mnist
    images = x[:50].astype(np.float32) / 255
    area = (images >= 0.5).sum(axis=(1, 2))
    assert ((thicker(images, 2) >= 0.5).sum(axis=(1, 2)) > 1.3 * area).all()
    assert ((thicker(images, 3) >= 0.5).sum(axis=(1, 2)) > (thicker(images, 2) >= 0.5).sum(axis=(1, 2))).all()
    thin = (thinner(images) >= 0.5).sum(axis=(1, 2))
    assert (thin <= area).all() and np.median(thin / area) < 0.75
    # A digit whose strokes are already hair-thin keeps them: thinning never wipes a digit out.
    hairline = np.zeros((1, 28, 28), np.float32)
    hairline[0, 4:24, 14] = 1.0
    np.testing.assert_array_equal(thinner(hairline), hairline)


@pytest.mark.parametrize("size", [2, 3])
def test_thicker_and_thinner_are_scipy_s_grey_dilation_and_erosion(small_mnist, size):
    (x, _), _ = small_mnist
    images = x[:20].astype(np.float32) / 255
    # scipy's reference: a size x size square; a 2 x 2 one reaching down and right, as ours does.
    origin = (0, 0, 0) if size == 3 else (0, -1, -1)
    np.testing.assert_array_equal(
        thicker(images, size), ndimage.maximum_filter(images, size=(1, size, size), mode="constant", origin=origin))
    np.testing.assert_array_equal(
        _filter(images, size, np.minimum),
        ndimage.minimum_filter(images, size=(1, size, size), mode="constant", cval=0.0, origin=origin))


def test_the_elastic_field_is_smooth_and_about_its_size():
    field = elastic_field(np.random.default_rng(0), 200, 1.5)
    assert field.shape == (200, 2, 28, 28) and field.dtype == np.float32
    rms = np.sqrt((field[:, :, 8:20, 8:20] ** 2).mean())
    assert 1.0 < rms < 2.0, rms
    step = np.abs(np.diff(field, axis=3)).mean()  # neighbouring pixels move almost alike
    assert step < 0.15 * np.abs(field).mean(), step


def test_distortions_keep_the_digit_mostly_inside_the_frame(small_mnist):
    (x, _), _ = small_mnist
    batch = batch_of(x[:500])
    out = make_augment(ROBUST)(batch, np.random.default_rng(1))
    ink_before = batch.sum(axis=1)
    ink_after = out.reshape(-1, 28, 28)
    border = ink_after.sum(axis=(1, 2)) - ink_after[:, 2:-2, 2:-2].sum(axis=(1, 2))
    assert np.median(border / ink_before) < 0.01  # nearly no ink pushed to the frame's edge


@pytest.mark.parametrize("bad", [dict(rotate=-1), dict(shear=2), dict(scale=(1.2, 0.8)), dict(fraction=1.5),
                                 dict(thicker=0.7, thinner=0.5), dict(elastic=9)])
def test_bad_ranges_are_refused_with_the_value(bad):
    with pytest.raises(ValueError) as err:
        Distortions(**bad)
    assert str(next(iter(bad.values()))).split(",")[0].strip("()") in str(err.value)


def test_a_network_trained_with_augmentation_still_learns(small_mnist):
    (x, y), (x_test, y_test) = small_mnist
    model = build_model("numpy", hidden=128, seed=0)
    model.fit(x, y, epochs=8, batch_size=64, augment=make_augment(ROBUST))  # 8 x 47 = 376 steps
    assert model.score(x_test, y_test)[1] > 0.85
