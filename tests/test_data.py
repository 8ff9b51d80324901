"""The data pipeline on the real MNIST files: official IDX -> mnist.json.gz -> MnistDataset."""

import gzip
import json
import shutil

import numpy as np
import pytest

from mnist.data import (
    IDX_FILES,
    PIXEL_VALUES,
    DataError,
    MnistDataset,
    load_official,
    load_split,
    official_splits,
    write_json,
)

from conftest import one_line_error, run_module

OFFICIAL_TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
OFFICIAL_TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]


@pytest.fixture(scope="module")
def official(mnist_dir):
    return load_official(mnist_dir)


def test_split_sizes_and_official_label_counts(datafile):
    sets = {mode: MnistDataset(mode, datafile) for mode in ("train", "valid", "eval")}
    assert [len(sets[m]) for m in ("train", "valid", "eval")] == [50000, 10000, 10000]
    assert np.bincount(sets["eval"].labels, minlength=10).tolist() == OFFICIAL_TEST_COUNTS
    train_and_valid = np.concatenate([sets["train"].labels, sets["valid"].labels])
    assert np.bincount(train_and_valid, minlength=10).tolist() == OFFICIAL_TRAIN_COUNTS


def test_items_are_the_lessons_shapes_and_types(datafile, official):
    ds = MnistDataset("valid", datafile)
    image, label = ds[0]
    assert image.shape == (1, 28, 28) and image.dtype == np.float32
    assert label.shape == (1,) and label.dtype == np.int64
    assert ds.images.shape == (10000, 1, 28, 28) and ds.labels.shape == (10000,)
    # valid is the last 10000 official training images: items are those images and labels
    for i in (0, 1234, 9999):
        image, label = ds[i]
        assert label[0] == official["train_labels"][50000 + i]
        np.testing.assert_array_equal(
            image.reshape(-1), (official["train_images"][50000 + i] / 255).astype(np.float32))
    assert 0.0 == ds.images.min() and ds.images.max() == 1.0


def test_splits_are_the_official_images_over_255(datafile, official):
    splits = official_splits(official)
    for mode in ("train", "valid", "eval"):
        images, labels = load_split(mode, datafile)
        expected = (splits[mode][0].astype(np.float64) / 255).astype(np.float32)
        np.testing.assert_array_equal(images.reshape(len(images), -1), expected)
        np.testing.assert_array_equal(labels, splits[mode][1])


def test_json_to_cache_round_trip_is_exact(tmp_path, official):
    small = {m: (im[:300], lb[:300]) for m, (im, lb) in official_splits(official).items()}
    path = tmp_path / "small.json.gz"
    write_json(small, path)
    with gzip.open(path, "rt") as f:
        data = json.load(f)  # what the lesson's own code reads
    import mnist.data as mnist_data

    for s, mode in enumerate(("train", "valid", "eval")):
        images, labels = load_split(mode, path)  # parses the JSON and writes the cache
        assert mnist_data._cache_path(path).is_file()
        parse = mnist_data.parse_json
        mnist_data.parse_json = None  # a second load must not parse the JSON
        try:
            cached_images, cached_labels = load_split(mode, path)  # reads the cache
        finally:
            mnist_data.parse_json = parse
        from_json = np.array(data[s][0], dtype=np.float32).reshape(-1, 1, 28, 28)
        np.testing.assert_array_equal(images, from_json)
        np.testing.assert_array_equal(cached_images, from_json)
        np.testing.assert_array_equal(cached_labels, data[s][1])
        np.testing.assert_array_equal(cached_images.reshape(300, -1), PIXEL_VALUES[small[mode][0]])


def test_tutorials_own_json_is_read_and_the_cache_follows_changes(tmp_path, official):
    # The tutorial's file is plain json.dump output of Python lists; build one like it.
    splits = official_splits(official)
    lists = [[(im[:50] / 255).tolist(), lb[:50].tolist()] for im, lb in splits.values()]
    path = tmp_path / "mnist.json.gz"
    with gzip.open(path, "wt") as f:
        json.dump(lists, f)
    ds = MnistDataset("eval", path)
    assert len(ds) == 50 and ds.labels.tolist() == splits["eval"][1][:50].tolist()
    lists[2][1][0] = (lists[2][1][0] + 1) % 10  # change the file: the cache must not be stale
    with gzip.open(path, "wt") as f:
        json.dump(lists, f)
    assert MnistDataset("eval", path).labels[0] == lists[2][1][0]


def test_bad_mode_names_the_valid_ones(datafile):
    with pytest.raises(ValueError, match="train, valid, eval"):
        MnistDataset("test", datafile)


@pytest.mark.parametrize("damage", ["truncated", "not gzip", "wrong structure"])
def test_corrupt_datafile_gives_a_clear_error(tmp_path, datafile, damage):
    path = tmp_path / "mnist.json.gz"
    if damage == "truncated":
        path.write_bytes(datafile.read_bytes()[:100000])
    elif damage == "not gzip":
        path.write_text("hello")
    else:
        with gzip.open(path, "wt") as f:
            json.dump({"train": []}, f)
    with pytest.raises(DataError, match=str(path)):
        MnistDataset("train", path)
    result = run_module("mnist.data", "--datafile", path, "--examples", tmp_path / "ex")
    assert result.returncode == 2
    one_line_error(result, path)


def test_idx_file_with_wrong_checksum_is_rejected(tmp_path, mnist_dir):
    bad = tmp_path / "mnist"
    shutil.copytree(mnist_dir, bad)
    target = bad / "t10k-labels-idx1-ubyte.gz"
    target.chmod(0o644)
    data = bytearray(target.read_bytes())
    data[-20] ^= 0xFF
    target.write_bytes(bytes(data))
    result = run_module("mnist.data", "--mnist-dir", bad, "--datafile", tmp_path / "m.json.gz")
    assert result.returncode == 2
    one_line_error(result, target, "md5")
    assert not (tmp_path / "m.json.gz").exists()


def test_truncated_unpacked_idx_file_is_rejected(tmp_path, mnist_dir):
    folder = tmp_path / "mnist"
    folder.mkdir()
    for key in IDX_FILES:
        name = IDX_FILES[key][0].rsplit("/", 1)[-1]
        data = gzip.decompress((mnist_dir / name).read_bytes())
        if key == "test_images":
            data = data[:-784]
        (folder / name[:-3]).write_bytes(data)
    with pytest.raises(DataError, match="t10k-images-idx3-ubyte"):
        load_official(folder)


def test_missing_data_folder(tmp_path):
    result = run_module("mnist.data", "--mnist-dir", tmp_path / "nowhere",
                        "--datafile", tmp_path / "m.json.gz")
    assert result.returncode == 2
    one_line_error(result, tmp_path / "nowhere")


def test_offline_without_data_says_what_to_do(tmp_path):
    # An empty home (so an empty Paddle cache), no MNIST_DIR, and a proxy that refuses: offline.
    env = {"HOME": str(tmp_path), "MNIST_DIR": "", "HTTPS_PROXY": "http://127.0.0.1:9",
           "HTTP_PROXY": "http://127.0.0.1:9", "ALL_PROXY": "http://127.0.0.1:9"}
    result = run_module("mnist.data", "--datafile", tmp_path / "m.json.gz", env=env)
    assert result.returncode == 2
    one_line_error(result, "MNIST_DIR", tmp_path / ".cache" / "paddle" / "dataset" / "mnist")


def test_without_a_writable_cache_the_split_comes_from_memory(tmp_path, official, monkeypatch,
                                                              capsys):
    import mnist.data as data

    small = {m: (im[:200], lb[:200]) for m, (im, lb) in official_splits(official).items()}
    path = tmp_path / "small.json.gz"
    write_json(small, path)

    def refuse(*_args, **_kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(data, "write_cache", refuse)
    images, labels = load_split("eval", path)
    assert not data._cache_path(path).exists()
    np.testing.assert_array_equal(images.reshape(200, -1), PIXEL_VALUES[small["eval"][0]])
    np.testing.assert_array_equal(labels, small["eval"][1])
    assert "cannot write the cache" in capsys.readouterr().err


def test_a_damaged_cache_is_rebuilt_with_one_line(tmp_path, official, capsys):
    """A cache cut short (a full disk, an interrupted copy) is rebuilt from the JSON, saying so
    in one line; it was a zipfile.BadZipFile traceback out of every train.py."""
    import mnist.data as data

    small = {m: (im[:200], lb[:200]) for m, (im, lb) in official_splits(official).items()}
    path = tmp_path / "small.json.gz"
    write_json(small, path)
    load_split("eval", path)  # writes the cache
    cache = data._cache_path(path)
    whole = cache.read_bytes()
    cache.write_bytes(whole[: len(whole) // 2])
    capsys.readouterr()
    images, labels = load_split("eval", path)
    np.testing.assert_array_equal(images.reshape(200, -1), PIXEL_VALUES[small["eval"][0]])
    np.testing.assert_array_equal(labels, small["eval"][1])
    err = [line for line in capsys.readouterr().err.splitlines() if line]
    assert len(err) == 1 and "damaged; rebuilding" in err[0] and str(cache) in err[0], err
    assert cache.stat().st_size == len(whole)  # whole again: the next load is quiet
    load_split("valid", path)
    assert capsys.readouterr().err == ""
