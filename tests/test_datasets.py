"""kerasviz.data.datasets: determinism, dtypes and ranges, tight boxes, ray-cast sensor ground truth."""
import math

import cv2
import numpy as np
import pytest

from kerasviz import ArgumentError, ImageError, ModelError

from kerasviz.data import datasets
from kerasviz.data.datasets import SENSOR_ANGLES_DEG, SENSOR_NAMES, SHAPE_CLASSES, sensor_readings

SIZE = 96
ORIGIN = ((SIZE - 1) / 2, SIZE - 1)
RANGE = 0.55 * SIZE


@pytest.fixture(scope="module")
def shape_data():
    return datasets.shapes(200, seed=11)


@pytest.fixture(scope="module")
def sensor_data():
    return datasets.sensors(200, seed=12)


# ----------------------------------------------------------------------------- shapes

def test_shapes_types_and_ranges(shape_data):
    images, labels, boxes = shape_data  # unpacks as 3
    assert len(SHAPE_CLASSES) >= 4 and len(set(SHAPE_CLASSES)) == len(SHAPE_CLASSES)
    assert images.dtype == np.uint8 and images.shape == (200, SIZE, SIZE, 3)
    assert labels.dtype == np.int64 and labels.shape == (200,)
    assert boxes.dtype == np.int32 and boxes.shape == (200, 4)
    assert labels.min() >= 0 and labels.max() < len(SHAPE_CLASSES)
    x0, y0, x1, y1 = boxes.T
    assert (x0 >= 0).all() and (y0 >= 0).all() and (x1 <= SIZE).all() and (y1 <= SIZE).all()
    assert (x1 > x0).all() and (y1 > y0).all()
    extent = np.maximum(x1 - x0, y1 - y0)
    assert extent.min() >= 0.14 * SIZE and extent.max() <= 0.5 * SIZE + 3  # + anti-aliased rim
    assert images.std() > 30  # not blank


def test_shapes_deterministic_and_seed_dependent():
    a, b, c = datasets.shapes(6, seed=5), datasets.shapes(6, seed=5), datasets.shapes(6, seed=6)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    assert not np.array_equal(a.images, c.images)
    assert not np.array_equal(a.boxes, c.boxes)


def test_shapes_classes_balanced():
    labels = datasets.shapes(100, seed=3).labels
    assert np.bincount(labels, minlength=len(SHAPE_CLASSES)).tolist() == [20] * len(SHAPE_CLASSES)
    assert len(set(labels[:10].tolist())) > 1  # shuffled, not in blocks


def test_shapes_other_size():
    images, labels, boxes = datasets.shapes(4, seed=1, size=48)
    assert images.shape == (4, 48, 48, 3) and boxes.max() <= 48


def _object_component(image, box):
    """Pixels of the object's colour (taken at the box centre) connected to the centre."""
    x0, y0, x1, y1 = box
    cy, cx = (y0 + y1 - 1) // 2, (x0 + x1 - 1) // 2
    img = image.astype(np.float32)
    color = np.median(img[cy - 1:cy + 2, cx - 1:cx + 2].reshape(-1, 3), axis=0)
    mask = (np.linalg.norm(img - color, axis=-1) < 32).astype(np.uint8)
    _, comp = cv2.connectedComponents(mask, connectivity=8)
    return comp == comp[cy, cx]


def test_shapes_boxes_tight_around_the_object(shape_data):
    """The uniform-coloured region grown from the box centre fills the box to within 2 px on
    every side (AA edge pixels are partly background) and does not leak out of it; the object
    contrasts with the ring of background just outside its box."""
    images, _, boxes = shape_data
    tight, contrast = 0, []
    for image, box in zip(images, boxes):
        comp = _object_component(image, box)
        ys, xs = np.nonzero(comp)
        found = np.array([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1])
        tight += bool(np.all(np.abs(found - box) <= 2))
        x0, y0, x1, y1 = box
        ring = np.zeros(comp.shape, bool)
        ring[max(y0 - 3, 0):y1 + 3, max(x0 - 3, 0):x1 + 3] = True
        ring[y0:y1, x0:x1] = False
        obj = image[comp].astype(np.float32).mean(0)
        contrast.append(np.linalg.norm(image[ring].astype(np.float32).mean(0) - obj))
    assert tight >= 0.95 * len(boxes)
    assert np.median(contrast) > 80 and np.mean(np.array(contrast) > 40) >= 0.95


def test_shapes_box_is_not_a_constant_guess(shape_data):
    """Shifting the boxes by a few pixels breaks tightness: the property above can fail."""
    images, _, boxes = shape_data
    shifted = boxes + np.array([4, 0, 4, 0], np.int32)
    misses = 0
    for image, box, wrong in zip(images[:40], boxes[:40], shifted[:40]):
        comp = _object_component(image, box)
        ys, xs = np.nonzero(comp)
        found = np.array([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1])
        misses += not np.all(np.abs(found - wrong) <= 2)
    assert misses == 40


# ----------------------------------------------------------------------------- sensors

def test_sensors_types_and_ranges(sensor_data):
    images, readings, scenes = sensor_data
    assert images.dtype == np.uint8 and images.shape == (200, SIZE, SIZE, 3)
    assert readings.dtype == np.float32 and readings.shape == (200, len(SENSOR_NAMES)) == (200, 5)
    assert readings.min() >= 0 and readings.max() <= 1
    assert len(scenes) == 200
    for scene in scenes:
        assert len(scene["obstacles"]) in (1, 2, 3)
        assert scene["origin"] == ORIGIN and tuple(scene["angles_deg"]) == SENSOR_ANGLES_DEG
        assert scene["max_range"] == pytest.approx(RANGE)
    # not degenerate: every sensor sees something in a fair share of the scenes, and not always
    seen = (readings > 0).mean(0)
    assert (seen > 0.15).all() and (seen < 0.8).all()


def test_sensors_deterministic_and_seed_dependent():
    a, b, c = datasets.sensors(5, seed=2), datasets.sensors(5, seed=2), datasets.sensors(5, seed=3)
    np.testing.assert_array_equal(a.images, b.images)
    np.testing.assert_array_equal(a.readings, b.readings)
    assert a.scenes == b.scenes
    assert not np.array_equal(a.images, c.images)


def test_ray_cast_disc_straight_ahead():
    disc = {"kind": "disc", "center": (ORIGIN[0], ORIGIN[1] - 30), "radius": 8.0}
    r = sensor_readings([disc], SIZE)
    assert r.dtype == np.float32 and r.shape == (5,)
    # the ±30° rays pass 30·sin 30° = 15 px from the centre: they miss the disc of radius 8
    np.testing.assert_allclose(r, [0, 0, 1 - (30 - 8) / RANGE, 0, 0], atol=1e-6)


def test_ray_cast_box_and_range_limits():
    box = {"kind": "box", "center": (ORIGIN[0], ORIGIN[1] - 20), "half_size": (5.0, 4.0)}
    np.testing.assert_allclose(sensor_readings([box], SIZE)[2], 1 - 16 / RANGE, atol=1e-6)
    # box on the leftmost ray (-60°): the ray crosses its near face x = cx + 3 at
    # t = (ox - cx - 3) / sin 60° = d - 3 / sin 60°
    d = 30.0
    cx, cy = ORIGIN[0] - d * math.sin(math.radians(60)), ORIGIN[1] - d * math.cos(math.radians(60))
    left = {"kind": "box", "center": (cx, cy), "half_size": (3.0, 10.0)}
    r = sensor_readings([left], SIZE)
    assert r[0] == pytest.approx(1 - (d - 3 / math.sin(math.radians(60))) / RANGE, abs=1e-5)
    assert r[2:].tolist() == [0, 0, 0]
    far = {"kind": "disc", "center": (ORIGIN[0], ORIGIN[1] - RANGE - 5), "radius": 4.0}
    assert sensor_readings([far], SIZE).tolist() == [0] * 5
    touching = {"kind": "disc", "center": ORIGIN, "radius": 3.0}
    assert sensor_readings([touching], SIZE).tolist() == [1] * 5
    behind = {"kind": "disc", "center": (ORIGIN[0], ORIGIN[1] + 10), "radius": 4.0}
    assert sensor_readings([behind], SIZE).tolist() == [0] * 5
    # the nearest of two obstacles on the same ray counts
    near = {"kind": "disc", "center": (ORIGIN[0], ORIGIN[1] - 15), "radius": 3.0}
    assert sensor_readings([box, near], SIZE)[2] == pytest.approx(1 - 12 / RANGE)


def _inside(ob, x, y):
    cx, cy = ob["center"]
    if ob["kind"] == "disc":
        return (x - cx) ** 2 + (y - cy) ** 2 <= ob["radius"] ** 2
    hx, hy = ob["half_size"]
    return (abs(x - cx) <= hx) & (abs(y - cy) <= hy)


def test_readings_match_brute_force_ray_marching(sensor_data):
    """An independent implementation: march along each ray in 0.05 px steps."""
    _, readings, scenes = sensor_data
    t = np.arange(0, RANGE + 0.05, 0.05)
    for reading, scene in zip(readings[:60], scenes[:60]):
        for j, angle in enumerate(scene["angles_deg"]):
            a = math.radians(angle)
            xs, ys = ORIGIN[0] + t * math.sin(a), ORIGIN[1] - t * math.cos(a)
            hit = np.zeros(len(t), bool)
            for ob in scene["obstacles"]:
                hit |= _inside(ob, xs, ys)
            expected = 1 - t[hit.argmax()] / RANGE if hit.any() else 0.0
            assert reading[j] == pytest.approx(expected, abs=0.05 / RANGE + 1e-5)


def test_obstacles_are_drawn_where_the_scene_says(sensor_data):
    """Centre and points at 70 % of the half-extent along x and y have the obstacle's colour."""
    images, _, scenes = sensor_data
    for image, scene in zip(images[:80], scenes[:80]):
        for ob in scene["obstacles"]:
            cx, cy = ob["center"]
            ex, ey = (ob["radius"],) * 2 if ob["kind"] == "disc" else ob["half_size"]
            for dx, dy in ((0, 0), (0.7, 0), (-0.7, 0), (0, 0.7), (0, -0.7)):
                px = image[round(cy + dy * ey), round(cx + dx * ex)].astype(np.float32)
                assert np.linalg.norm(px - ob["color"]) < 30, (ob, dx, dy)
            assert cx - ex >= 0 and cx + ex <= SIZE - 1 and cy - ey >= 0 and cy + ey <= SIZE - 1


@pytest.mark.parametrize("side", ["left", "right"])
def test_single_obstacle_on_one_side(side):
    images, readings, scenes = datasets.sensors(40, seed=7, obstacles=side)
    j = 0 if side == "left" else 4
    assert (readings[:, j] > 0).all()
    for scene in scenes:
        (ob,) = scene["obstacles"]
        ex = ob["radius"] if ob["kind"] == "disc" else ob["half_size"][0]
        cx = ob["center"][0]
        if side == "left":
            assert cx + ex < SIZE / 2
        else:
            assert cx - ex > SIZE / 2
    # the image differs from plain floor on that side only: the obstacle is in that half
    other = images[:, :, SIZE // 2:] if side == "left" else images[:, :, :SIZE // 2]
    this = images[:, :, :SIZE // 2] if side == "left" else images[:, :, SIZE // 2:]
    assert this.std(axis=(1, 2)).mean() > other.std(axis=(1, 2)).mean()


def _near(ob: dict, pad: float, size: int = SIZE) -> np.ndarray:
    """``bool (size, size)``: the obstacle's bounding box grown by ``pad`` pixels."""
    (cx, cy), (ex, ey) = ob["center"], (ob["radius"],) * 2 if ob["kind"] == "disc" else ob["half_size"]
    mask = np.zeros((size, size), bool)
    mask[max(0, round(cy - ey - pad)):round(cy + ey + pad) + 1,
         max(0, round(cx - ex - pad)):round(cx + ex + pad) + 1] = True
    return mask


def test_camouflage_paints_obstacles_in_the_floor_colour():
    """Same scenes and readings; only the obstacles change, to the colour of the floor around
    them (their centre and points at 70 % of the half-extent, against the median of a ring of
    floor just outside)."""
    plain, camo = datasets.sensors(40, seed=5), datasets.sensors(40, seed=5, camouflage=True)
    np.testing.assert_array_equal(camo.readings, plain.readings)
    without_colour = [[{k: v for k, v in ob.items() if k != "color"} for ob in s["obstacles"]]
                      for s in plain.scenes]
    assert without_colour == [[{k: v for k, v in ob.items() if k != "color"} for ob in s["obstacles"]]
                              for s in camo.scenes]
    for image, plain_image, scene in zip(camo.images, plain.images, camo.scenes):
        near = np.any([_near(ob, 2) for ob in scene["obstacles"]], axis=0)
        np.testing.assert_array_equal(image[~near], plain_image[~near])
        for ob in scene["obstacles"]:
            floor = np.median(image[_near(ob, 8) & ~near].astype(np.float32), axis=0)
            cx, cy = ob["center"]
            ex, ey = (ob["radius"],) * 2 if ob["kind"] == "disc" else ob["half_size"]
            for dx, dy in ((0, 0), (0.7, 0), (-0.7, 0), (0, 0.7), (0, -0.7)):
                y, x = round(cy + dy * ey), round(cx + dx * ex)
                assert np.linalg.norm(image[y, x] - floor) < 50, (ob, dx, dy)
                assert np.linalg.norm(plain_image[y, x] - floor) > 80, (ob, dx, dy)


def test_other_size_scales_geometry():
    images, readings, scenes = datasets.sensors(3, seed=1, size=64)
    assert images.shape == (3, 64, 64, 3)
    assert scenes[0]["origin"] == (31.5, 63.0) and scenes[0]["max_range"] == pytest.approx(0.55 * 64)
    for r, scene in zip(readings, scenes):
        np.testing.assert_array_equal(r, sensor_readings(scene["obstacles"], 64))


# ----------------------------------------------------------------------------- errors, speed

@pytest.mark.parametrize("fn", [datasets.shapes, datasets.sensors])
@pytest.mark.parametrize("n", [0, -3, 2.5, "10", True, None])
def test_bad_n(fn, n):
    with pytest.raises(ArgumentError, match="n must be an integer ≥ 1") as info:
        fn(n)
    # a bad count is an option value: not a model or image problem
    assert not isinstance(info.value, (ModelError, ImageError))
    assert f"n={n!r}" in str(info.value)


@pytest.mark.parametrize("fn", [datasets.shapes, datasets.sensors])
@pytest.mark.parametrize("size", [16, 31, 0, 96.5, "96"])
def test_bad_size(fn, size):
    with pytest.raises(ArgumentError, match=f"size must be an integer ≥ 32. Received: size={size!r}"):
        fn(2, size=size)


@pytest.mark.parametrize("fn", [datasets.shapes, datasets.sensors])
@pytest.mark.parametrize("seed", [-1, "abc", 1.5, None])
def test_bad_seed(fn, seed):
    with pytest.raises(ArgumentError, match="seed must be an integer ≥ 0"):
        fn(2, seed=seed)


@pytest.mark.parametrize("value", [1, "yes", None])
def test_bad_camouflage_option(value):
    with pytest.raises(ArgumentError, match=f"camouflage must be True or False. Received: camouflage={value!r}"):
        datasets.sensors(2, camouflage=value)


def test_bad_obstacles_option():
    with pytest.raises(ArgumentError, match=r"obstacles must be one of \['left', 'right'\].*'up'"):
        datasets.sensors(2, obstacles="up")


def test_obstacle_mask_covers_the_obstacles_drawn():
    images, _, scenes = datasets.sensors(6, seed=3)
    for image, scene in zip(images, scenes):
        mask = datasets.obstacle_mask(scene)
        assert mask.shape == image.shape[:2] and mask.any()
        for ob in scene["obstacles"]:
            x, y = (round(c) for c in ob["center"])
            assert mask[y, x]  # every obstacle's centre is inside
            inside = image[mask].astype(float).mean(0)
        # obstacles are painted far from the floor colour: masked pixels differ from the rest
        assert np.abs(inside - image[~mask].astype(float).mean(0)).max() > 20


def test_obstacle_mask_of_one_sensor_holds_the_point_its_ray_hits():
    _, readings, scenes = datasets.sensors(8, seed=5)
    checked = 0
    for reading, scene in zip(readings, scenes):
        every = datasets.obstacle_mask(scene)
        (ox, oy), reach = scene["origin"], scene["max_range"]
        for k, (value, angle) in enumerate(zip(reading, scene["angles_deg"])):
            seen = datasets.obstacle_mask(scene, sensor=k)
            if value == 0:
                assert not seen.any()
                continue
            assert seen.any() and not (seen & ~every).any()
            # the first hit, a little further along the ray: inside the obstacle this sensor sees
            depth = (1 - value) * reach + 1.5
            x = ox + depth * np.sin(np.radians(angle))
            y = oy - depth * np.cos(np.radians(angle))
            assert datasets.obstacle_mask(scene, sensor=k, grow=1)[round(y), round(x)]
            checked += 1
    assert checked >= 8


def test_obstacle_mask_grow_and_robot_mask():
    _, _, scenes = datasets.sensors(3, seed=1)
    for scene in scenes:
        mask, grown = datasets.obstacle_mask(scene), datasets.obstacle_mask(scene, grow=2)
        assert not (mask & ~grown).any() and grown.sum() > mask.sum()
        robot = datasets.robot_mask(scene)
        r = scene["robot_radius"]
        assert abs(robot.sum() - np.pi * r * r / 2) < 2 * np.pi * r  # a half disc at the bottom edge
        assert not (robot & mask).any()
    with pytest.raises(ArgumentError, match="grow must be an integer ≥ 0"):
        datasets.obstacle_mask(scenes[0], grow=-1)
    with pytest.raises(ArgumentError, match="sensor must be an integer"):
        datasets.obstacle_mask(scenes[0], sensor=5)
