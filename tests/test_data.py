"""MNIST loading, verification and fetching; the tutorial's CSV format."""
import gzip

import numpy as np
import pytest

from mnistcore import data


def test_load_mnist_matches_keras_shapes(mnist):
    (x_train, y_train), (x_test, y_test) = mnist
    assert x_train.shape == (60000, 28, 28) and x_train.dtype == np.uint8
    assert x_test.shape == (10000, 28, 28) and x_test.dtype == np.uint8
    assert y_train.shape == (60000,) and y_train.dtype == np.uint8
    assert y_test.shape == (10000,) and y_test.dtype == np.uint8
    # MNIST as published: the first training digits are 5 0 4 1 9, the first test digits 7 2 1 0 4.
    assert y_train[:5].tolist() == [5, 0, 4, 1, 9]
    assert y_test[:5].tolist() == [7, 2, 1, 0, 4]
    assert np.bincount(y_test).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    assert x_train.max() == 255 and x_train[:, 0, 0].max() == 0  # ink is light, corners are empty


def test_gzipped_idx_files_load_the_same(tmp_path, mnist):
    source = data.resolve_data_dir()
    for name in data.IDX_SHA256:
        path = data._find_idx(source, name)
        raw = path.read_bytes() if path.suffix != ".gz" else gzip.decompress(path.read_bytes())
        (tmp_path / f"{name}.gz").write_bytes(gzip.compress(raw, compresslevel=1))
    (x_train, y_train), (x_test, y_test) = data.load_mnist(tmp_path)
    assert np.array_equal(x_test, mnist[1][0]) and np.array_equal(y_train, mnist[0][1])


def test_parse_idx_reads_a_valid_file():
    raw = b"\x00\x00\x08\x03" + b"".join(n.to_bytes(4, "big") for n in (2, 28, 28)) + bytes(range(256)) * 6 + bytes(32)
    images = data.parse_idx(raw, "x")
    assert images.shape == (2, 28, 28) and images[0, 0, 5] == 5


def test_images_are_made_on_a_bytearray_without_a_copy(tmp_path):
    """The 47 MB of training images are not copied after unpacking (the server's peak memory);
    from bytes they are copied, so that either way the arrays are writeable."""
    raw = b"\x00\x00\x08\x03" + b"".join(n.to_bytes(4, "big") for n in (1, 28, 28)) + bytes(784)
    (tmp_path / "x.gz").write_bytes(gzip.compress(raw))
    unpacked = data._read_maybe_gzip(tmp_path / "x.gz")
    on_bytes, on_buffer = data.parse_idx(raw, "x"), data.parse_idx(unpacked, "x")
    assert on_bytes.flags.writeable and on_buffer.flags.writeable
    unpacked[16 + 5] = 99  # the array is the bytearray's own memory
    assert on_buffer[0, 0, 5] == 99 and on_bytes[0, 0, 5] == 0


def test_a_damaged_gzip_file_is_refused_with_its_name(tmp_path):
    path = tmp_path / "t10k-labels-idx1-ubyte.gz"
    path.write_bytes(gzip.compress(bytes(10_008))[:-12])  # cut short
    with pytest.raises(ValueError, match="t10k-labels-idx1-ubyte.gz: not a valid gzip file"):
        data._read_maybe_gzip(path)


# ---------------------------------------------------------------------------- fetching


def test_csv_round_trip(tmp_path, mnist):
    images, labels = mnist[1][0][:50], mnist[1][1][:50]
    path = data.export_csv(images, labels, tmp_path / "mnist_test.csv")
    first = path.read_text().splitlines()[0].split(",")
    assert len(first) == 785 and first[0] == str(labels[0])
    back_images, back_labels = data.load_csv(path)
    assert np.array_equal(back_images, images) and np.array_equal(back_labels, labels)
    assert back_images.dtype == np.uint8 and back_labels.dtype == np.uint8
