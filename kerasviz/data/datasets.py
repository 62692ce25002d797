"""Self-generated demo data: coloured shapes on clutter, and a robot's camera with proximity sensors.

Both generators are deterministic (same ``seed`` → identical arrays), need no download and draw with
OpenCV, so 1000 images take well under a second or two.

Pixel coordinates follow OpenCV: ``x`` is the column, ``y`` the row, pixel centres lie at integer
coordinates and the image covers ``[-0.5, size - 0.5]`` on both axes.

* :func:`shapes` — one filled shape of :data:`SHAPE_CLASSES` per image (random colour, size,
  rotation and place) on a cluttered background of gradients, smooth noise, irregular blobs and
  lines, with its tight bounding box. Used to train and test the ``shapes`` classifier.
* :func:`sensors` — a bird's-eye camera view of a textured floor in front of a robot (drawn at the
  bottom centre) with 1–3 obstacles (discs and axis-aligned boxes), and the readings of 5 proximity
  sensors fanning from −60° (left) to +60° (right), computed by ray casting against the obstacles'
  geometry (:func:`sensor_readings`). The idea comes from "Self-supervised learning of long-range
  perception from short-range sensors", revisited in "A journey into CNN visualization".
"""
from __future__ import annotations

import math
from typing import NamedTuple, Sequence

import cv2
import numpy as np

from kerasviz import _validate
from kerasviz.errors import ArgumentError

SHAPE_CLASSES: tuple[str, ...] = ("circle", "square", "triangle", "star", "cross")
SENSOR_NAMES: tuple[str, ...] = ("left", "front_left", "front", "front_right", "right")
#: sensor directions in degrees from straight ahead (negative = left), sensor 0 first
SENSOR_ANGLES_DEG: tuple[float, ...] = (-60.0, -30.0, 0.0, 30.0, 60.0)
#: sensor range as a fraction of the image side (the side rays stay inside the image)
MAX_RANGE_FRACTION = 0.55
#: radius of the robot's body drawn at the bottom centre, as a fraction of the image side
ROBOT_RADIUS_FRACTION = 0.07
MIN_SIZE = 32

_SHIFT = 4                      # OpenCV sub-pixel drawing: coordinates in 1/16 px
_ONE = 1 << _SHIFT


class Shapes(NamedTuple):
    """Output of :func:`shapes`.

    Attributes:
        images: ``uint8 (N, size, size, 3)`` RGB.
        labels: ``int64 (N,)`` indices into :data:`SHAPE_CLASSES`.
        boxes: ``int32 (N, 4)`` as ``x0, y0, x1, y1`` pixels, ``x1``/``y1`` exclusive, tight
            around every pixel the object touches (``images[i, y0:y1, x0:x1]`` is the object).
    """
    images: np.ndarray
    labels: np.ndarray
    boxes: np.ndarray


class Sensors(NamedTuple):
    """Output of :func:`sensors`.

    Attributes:
        images: ``uint8 (N, size, size, 3)`` RGB bird's-eye view; the robot sits at the bottom
            centre and looks up (towards ``y = 0``).
        readings: ``float32 (N, 5)`` in [0, 1], one column per :data:`SENSOR_NAMES` entry:
            ``1 - distance / max_range`` to the first obstacle along the sensor's ray, 0 when
            nothing is within range.
        scenes: one dict per image: ``obstacles`` (list of ``{"kind": "disc", "center": (x, y),
            "radius": r, "color": (R, G, B)}`` or ``{"kind": "box", "center": (x, y),
            "half_size": (hx, hy), "color": ...}``, pixel coordinates, boxes axis-aligned),
            ``origin`` (x, y) of the rays, ``angles_deg`` (sensor directions, 0 = up, negative =
            left), ``max_range`` (pixels), ``robot_radius`` (pixels) and ``size``.
    """
    images: np.ndarray
    readings: np.ndarray
    scenes: list


# ----------------------------------------------------------------------------- argument checks

def _check(n, seed, size) -> tuple[int, int, int]:
    """The number of images, the seed and the image side, checked (ArgumentError)."""
    return (_validate.positive_int("n", n), _validate.integer("seed", seed, lo=0),
            _validate.integer("size", size, lo=MIN_SIZE))


# ----------------------------------------------------------------------------- textures

def _smooth_noise(rng: np.random.Generator, size: int, cells: int, channels: int = 3) -> np.ndarray:
    """Smooth random field, float32 (size, size, channels), roughly N(0, 1) per pixel."""
    grid = rng.normal(size=(cells, cells, channels)).astype(np.float32)
    out = cv2.resize(grid, (size, size), interpolation=cv2.INTER_CUBIC)
    return out.reshape(size, size, channels)


def _gradient(rng: np.random.Generator, size: int, c0, c1) -> np.ndarray:
    """Linear gradient from colour c0 to c1 along a random direction, float32 (size, size, 3)."""
    a = rng.uniform(0, 2 * np.pi)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / (size - 1) - 0.5
    t = np.clip(xx * math.cos(a) + yy * math.sin(a) + 0.5, 0, 1)[..., None]
    return (1 - t) * np.asarray(c0, np.float32) + t * np.asarray(c1, np.float32)


def _random_color(rng: np.random.Generator, avoid=None, min_dist: float = 0.0) -> np.ndarray:
    """A saturated random RGB colour at least ``min_dist`` (L2) away from every colour in ``avoid``."""
    avoid = np.asarray(avoid if avoid is not None else np.zeros((0, 3)), np.float32).reshape(-1, 3)
    best, best_d = None, -1.0
    for _ in range(50):
        c = rng.uniform(0, 255, 3).astype(np.float32)
        c[rng.integers(3)] = rng.choice([rng.uniform(0, 40), rng.uniform(215, 255)])  # saturate
        d = float(np.min(np.linalg.norm(avoid - c, axis=1))) if len(avoid) else np.inf
        if d >= min_dist:
            return c
        if d > best_d:
            best, best_d = c, d
    return best


def _blend(img: np.ndarray, alpha: np.ndarray, color) -> None:
    """In place: ``img = img * (1 - alpha) + color * alpha`` with alpha float (H, W) in [0, 1]."""
    a = alpha[..., None]
    img *= 1 - a
    img += a * np.asarray(color, np.float32)


def _clutter_background(rng: np.random.Generator, size: int) -> np.ndarray:
    """Textured background: gradient, smooth noise, soft irregular blobs, random lines. float32."""
    c0, c1 = rng.uniform(50, 205, 3), rng.uniform(50, 205, 3)
    img = _gradient(rng, size, c0, c1)
    img += 22 * _smooth_noise(rng, size, int(rng.integers(3, 9)))
    # irregular blobs: high level sets of a smooth field (never a circle, square, ... outline)
    field = _smooth_noise(rng, size, int(rng.integers(4, 8)), 1)[..., 0]
    for level, sign in ((1.1, 1), (1.1, -1)):
        blob = np.clip((sign * field - level) * 3, 0, 1) * rng.uniform(0.35, 0.6)
        _blend(img, cv2.GaussianBlur(blob, (0, 0), 1.0), rng.uniform(30, 225, 3))
    # random straight lines and polylines, composited in one pass
    alpha = np.zeros((size, size), np.uint8)
    paint = np.zeros((size, size, 3), np.float32)
    for _ in range(int(rng.integers(3, 8))):
        pts = (rng.uniform(-0.1, 1.1, (int(rng.integers(2, 4)), 2)) * size * _ONE).astype(np.int32)
        thick = int(rng.integers(1, 3))
        color = rng.uniform(20, 235, 3).tolist()
        cv2.polylines(paint, [pts], False, color, thick + 2, cv2.LINE_8, _SHIFT)
        cv2.polylines(alpha, [pts], False, int(rng.uniform(100, 200)), thick, cv2.LINE_AA, _SHIFT)
    a = alpha.astype(np.float32)[..., None] / 255
    img = img * (1 - a) + paint * a
    return img


# ----------------------------------------------------------------------------- shapes

def _shape_polygon(kind: str, cx: float, cy: float, r: float, angle: float) -> np.ndarray | None:
    """Vertices (K, 2) of a shape of circumradius r, or None for a circle."""
    if kind == "circle":
        return None
    if kind == "square":
        t = angle + np.pi / 4 + np.arange(4) * np.pi / 2
        rad = np.full(4, r)
    elif kind == "triangle":
        t = angle + np.arange(3) * 2 * np.pi / 3
        rad = np.full(3, r)
    elif kind == "star":
        t = angle + np.arange(10) * np.pi / 5
        rad = np.where(np.arange(10) % 2 == 0, r, 0.45 * r)
    elif kind == "cross":
        w = 0.36  # half-width of the arms, relative to r
        base = np.array([(w, 1), (w, w), (1, w), (1, -w), (w, -w), (w, -1),
                         (-w, -1), (-w, -w), (-1, -w), (-1, w), (-w, w), (-w, 1)], np.float64)
        base *= r / math.hypot(1, w)
        t = np.arctan2(base[:, 1], base[:, 0]) + angle
        rad = np.hypot(base[:, 0], base[:, 1])
    else:  # pragma: no cover - guarded by SHAPE_CLASSES
        _validate.one_of("kind", kind, SHAPE_CLASSES)
    return np.stack([cx + rad * np.cos(t), cy + rad * np.sin(t)], axis=1)


def _shape_mask(size: int, kind: str, cx: float, cy: float, r: float, angle: float) -> np.ndarray:
    """Anti-aliased coverage float32 (size, size) in [0, 1] of one shape."""
    mask = np.zeros((size, size), np.uint8)
    poly = _shape_polygon(kind, cx, cy, r, angle)
    if poly is None:
        cv2.circle(mask, (round(cx * _ONE), round(cy * _ONE)), round(r * _ONE), 255, -1,
                   cv2.LINE_AA, _SHIFT)
    else:
        cv2.fillPoly(mask, [np.round(poly * _ONE).astype(np.int32)], 255, cv2.LINE_AA, _SHIFT)
    return mask.astype(np.float32) / 255


def shapes(n: int, seed: int = 0, size: int = 96) -> Shapes:
    """Generate ``n`` images with one coloured shape each on a cluttered background.

    The classes are balanced (each appears ``n // len(SHAPE_CLASSES)`` or one more times, in a
    random order). Each object has a random colour kept far (RGB distance >= 110) from the
    background under it, a circumradius of 10–25 % of the image side (so its extent is 20–50 % of
    the side), a random rotation and a random place fully inside the image. Pixel noise
    (std 6) covers object and background alike.

    Args:
        n: number of images, >= 1.
        seed: random seed; the same seed gives identical data.
        size: side of the square images in pixels, >= 32.

    Returns:
        :class:`Shapes` ``(images uint8 (n, size, size, 3), labels int64 (n,), boxes int32 (n, 4))``.

    Raises:
        ArgumentError: ``n`` is not a positive integer, ``seed`` not an integer >= 0 or ``size``
            not an integer >= 32.
    """
    n, seed, size = _check(n, seed, size)
    rng = np.random.default_rng([seed, 1])
    k = len(SHAPE_CLASSES)
    labels = rng.permutation(np.arange(n) % k).astype(np.int64)
    images = np.empty((n, size, size, 3), np.uint8)
    boxes = np.empty((n, 4), np.int32)
    for i in range(n):
        img = _clutter_background(rng, size)
        r = rng.uniform(0.10, 0.25) * size
        cx, cy = rng.uniform(r + 1, size - 2 - r, 2)
        alpha = _shape_mask(size, SHAPE_CLASSES[labels[i]], cx, cy, r, rng.uniform(0, 2 * np.pi))
        under = img[alpha > 0.5]
        avoid = [under.mean(0), np.percentile(under, 15, axis=0), np.percentile(under, 85, axis=0)]
        _blend(img, alpha, _random_color(rng, avoid, 110))
        img += rng.normal(0, 6, img.shape).astype(np.float32)
        images[i] = np.clip(img + 0.5, 0, 255).astype(np.uint8)
        ys, xs = np.nonzero(alpha > 0)
        boxes[i] = xs.min(), ys.min(), xs.max() + 1, ys.max() + 1
    return Shapes(images, labels, boxes)


# ----------------------------------------------------------------------------- sensors

def _scene_geometry(size: int) -> dict:
    return {"origin": ((size - 1) / 2.0, float(size - 1)),
            "angles_deg": SENSOR_ANGLES_DEG,
            "max_range": MAX_RANGE_FRACTION * size,
            "robot_radius": ROBOT_RADIUS_FRACTION * size,
            "size": size}


def _ray_distance(origin, direction, ob: dict) -> float:
    """Distance along a unit ray to the first point of an obstacle (0 if the origin is inside)."""
    ox, oy = origin
    dx, dy = direction
    cx, cy = ob["center"]
    if ob["kind"] == "disc":
        fx, fy = ox - cx, oy - cy
        c = fx * fx + fy * fy - ob["radius"] ** 2
        if c <= 0:
            return 0.0
        b = fx * dx + fy * dy
        disc = b * b - c
        if disc < 0 or b > 0:  # misses, or the disc lies behind the origin
            return math.inf
        return -b - math.sqrt(disc)
    if ob["kind"] == "box":  # slab method, axis-aligned box
        hx, hy = ob["half_size"]
        t0, t1 = -math.inf, math.inf
        for o, d, lo, hi in ((ox, dx, cx - hx, cx + hx), (oy, dy, cy - hy, cy + hy)):
            if abs(d) < 1e-12:
                if not lo <= o <= hi:
                    return math.inf
                continue
            a, b = (lo - o) / d, (hi - o) / d
            t0, t1 = max(t0, min(a, b)), min(t1, max(a, b))
        if t0 > t1 or t1 < 0:
            return math.inf
        return max(t0, 0.0)
    _validate.one_of("obstacle kind", ob["kind"], ["disc", "box"])
    return math.inf  # not reached


def sensor_readings(obstacles: Sequence[dict], size: int = 96, *, origin=None,
                    angles_deg: Sequence[float] = SENSOR_ANGLES_DEG,
                    max_range: float | None = None) -> np.ndarray:
    """Proximity readings of the robot's sensors by ray casting (the ground truth of :func:`sensors`).

    Args:
        obstacles: dicts as in ``Sensors.scenes[i]["obstacles"]``: ``{"kind": "disc",
            "center": (x, y), "radius": r}`` or ``{"kind": "box", "center": (x, y),
            "half_size": (hx, hy)}`` in pixel coordinates.
        size: image side in pixels (sets the default origin and range).
        origin: ``(x, y)`` where the rays start; default the bottom centre ``((size-1)/2, size-1)``.
        angles_deg: ray directions in degrees from straight up (negative = left).
        max_range: sensor range in pixels; default ``0.55 * size``.

    Returns:
        ``float32 (len(angles_deg),)`` in [0, 1]: ``1 - distance / max_range`` to the nearest
        obstacle along each ray, clipped to [0, 1] (0 = nothing within range).
    """
    geo = _scene_geometry(size)
    origin = geo["origin"] if origin is None else origin
    max_range = geo["max_range"] if max_range is None else max_range
    out = np.zeros(len(angles_deg), np.float32)
    for j, a in enumerate(angles_deg):
        rad = math.radians(a)
        direction = (math.sin(rad), -math.cos(rad))
        dist = min([_ray_distance(origin, direction, ob) for ob in obstacles], default=math.inf)
        out[j] = np.clip(1.0 - dist / max_range, 0.0, 1.0) if math.isfinite(dist) else 0.0
    return out


def _floor(rng: np.random.Generator, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Textured floor (tiles, smooth noise, stains), float32 (size, size, 3), and its base colour."""
    base = rng.uniform(70, 180, 3) * rng.uniform(0.8, 1.0) + rng.uniform(-15, 15)
    img = _gradient(rng, size, base - rng.uniform(0, 25), base + rng.uniform(0, 25))
    img += 10 * _smooth_noise(rng, size, int(rng.integers(4, 10)))
    tile = int(rng.integers(size // 8, size // 4))
    off = rng.integers(0, tile, 2)
    grout = np.zeros((size, size), np.float32)
    grout[(np.arange(size) + off[0]) % tile == 0, :] = 1
    grout[:, (np.arange(size) + off[1]) % tile == 0] = 1
    _blend(img, grout * rng.uniform(0.15, 0.35), base * rng.uniform(0.5, 1.3))
    field = _smooth_noise(rng, size, int(rng.integers(4, 8)), 1)[..., 0]
    _blend(img, np.clip(field - 1.2, 0, 1) * 0.4, base * rng.uniform(0.6, 1.2))
    return img, base


def _extent(ob: dict) -> tuple[float, float, float]:
    """(half-width, half-height, bounding-circle radius) of an obstacle."""
    if ob["kind"] == "disc":
        return ob["radius"], ob["radius"], ob["radius"]
    hx, hy = ob["half_size"]
    return hx, hy, math.hypot(hx, hy)


def _fits(ob: dict, others: list, geo: dict, x_range: tuple[float, float]) -> bool:
    """Inside the image (and within x_range), clear of the robot and of the other obstacles."""
    (cx, cy), (ex, ey, er) = ob["center"], _extent(ob)
    size = geo["size"]
    if cx - ex < x_range[0] or cx + ex > x_range[1] or cy - ey < 0.5 or cy + ey > size - 1.5:
        return False
    if math.hypot(cx - geo["origin"][0], cy - geo["origin"][1]) < er + geo["robot_radius"] + 2:
        return False
    return all(math.hypot(cx - o["center"][0], cy - o["center"][1]) > er + _extent(o)[2] + 2
               for o in others)


def _random_obstacle(rng: np.random.Generator, geo: dict, angle_deg: float | None = None) -> dict:
    """An obstacle of random kind and size; near the sensor fan, or along ``angle_deg`` if given."""
    size = geo["size"]
    if rng.random() < 0.5:
        ob = {"kind": "disc", "radius": float(rng.uniform(0.06, 0.14) * size)}
    else:
        ob = {"kind": "box", "half_size": tuple(float(v) for v in rng.uniform(0.05, 0.13, 2) * size)}
    er = _extent(ob)[2]
    if angle_deg is None and rng.random() < 0.25:      # anywhere: often out of range (distractor)
        ob["center"] = tuple(float(v) for v in rng.uniform(0, size - 1, 2))
    else:                                               # in front of the sensor fan
        a = math.radians(rng.uniform(-75, 75) if angle_deg is None else angle_deg + rng.uniform(-8, 8))
        d = rng.uniform(geo["robot_radius"] + er + 2, geo["max_range"] + er)
        ox, oy = geo["origin"]
        ob["center"] = (float(ox + d * math.sin(a)), float(oy - d * math.cos(a)))
    return ob


def _obstacle_alpha(size: int, ob: dict) -> np.ndarray:
    """Anti-aliased coverage ``float32 (size, size)`` in [0, 1] of one obstacle."""
    mask = np.zeros((size, size), np.uint8)
    cx, cy = ob["center"]
    if ob["kind"] == "disc":
        cv2.circle(mask, (round(cx * _ONE), round(cy * _ONE)), round(ob["radius"] * _ONE), 255, -1,
                   cv2.LINE_AA, _SHIFT)
    else:
        hx, hy = ob["half_size"]
        poly = np.array([(cx - hx, cy - hy), (cx + hx, cy - hy), (cx + hx, cy + hy), (cx - hx, cy + hy)])
        cv2.fillPoly(mask, [np.round(poly * _ONE).astype(np.int32)], 255, cv2.LINE_AA, _SHIFT)
    return mask.astype(np.float32) / 255


def obstacle_mask(scene: dict, sensor: int | None = None, grow: int = 0) -> np.ndarray:
    """``bool (size, size)``: the pixels covered (at least half) by the scene's obstacles, for
    one entry of :attr:`Sensors.scenes` — ground truth for where a sensor's explanation should
    point.

    Args:
        sensor: index into ``SENSOR_NAMES``: only the obstacle that sensor sees first (all False
            when it sees none); None: every obstacle.
        grow: pixels added around the obstacles (a square dilation), >= 0.
    """
    grow = _validate.integer("grow", grow, lo=0)
    size, obstacles = int(scene["size"]), list(scene["obstacles"])
    if sensor is not None:
        sensor = _validate.integer("sensor", sensor, lo=0, hi=len(scene["angles_deg"]) - 1)
        reach = [sensor_readings([ob], size, origin=scene["origin"], angles_deg=scene["angles_deg"],
                                 max_range=scene["max_range"])[sensor] for ob in obstacles]
        obstacles = [obstacles[int(np.argmax(reach))]] if max(reach, default=0) > 0 else []
    alpha = np.zeros((size, size), np.float32)
    for ob in obstacles:
        alpha = np.maximum(alpha, _obstacle_alpha(size, ob))
    mask = alpha >= 0.5
    if grow:
        mask = cv2.dilate(mask.astype(np.uint8), np.ones((2 * grow + 1,) * 2, np.uint8)) > 0
    return mask


def robot_mask(scene: dict) -> np.ndarray:
    """``bool (size, size)``: the pixels of the robot's body in one entry of
    :attr:`Sensors.scenes` (where an explanation of a reading should *not* point)."""
    size = int(scene["size"])
    (ox, oy), r = scene["origin"], scene["robot_radius"]
    yy, xx = np.mgrid[0:size, 0:size]
    return np.hypot(xx - ox, yy - oy) <= r


def _draw_obstacle(img: np.ndarray, ob: dict, color) -> None:
    alpha = _obstacle_alpha(img.shape[0], ob)
    # darker rim, lit centre: reads as a solid object seen from above
    rim = alpha - cv2.erode(alpha, np.ones((3, 3), np.uint8))
    _blend(img, alpha, color)
    _blend(img, np.clip(rim, 0, 1) * 0.5, np.asarray(color) * 0.45)


def _draw_robot(img: np.ndarray, geo: dict) -> None:
    (ox, oy), r = geo["origin"], geo["robot_radius"]
    mask = np.zeros(img.shape[:2], np.uint8)
    cv2.circle(mask, (round(ox * _ONE), round(oy * _ONE)), round(r * _ONE), 255, -1, cv2.LINE_AA, _SHIFT)
    _blend(img, mask.astype(np.float32) / 255, (40, 40, 48))
    cv2.circle(img, (round(ox * _ONE), round((oy - r * 0.5) * _ONE)), round(r * 0.25 * _ONE),
               (230, 230, 90), -1, cv2.LINE_AA, _SHIFT)


def sensors(n: int, seed: int = 0, size: int = 96, obstacles: str | None = None,
            camouflage: bool = False) -> Sensors:
    """Generate ``n`` robot camera images with the readings of its 5 proximity sensors.

    Each image is a bird's-eye view of a textured floor (tiles, stains, smooth noise) with the
    robot at the bottom centre looking up, and 1–3 non-overlapping obstacles (discs of radius
    6–14 % of the side, axis-aligned boxes of half-size 5–13 %) in colours far from the floor's.
    Most obstacles are placed in front of the sensor fan, some anywhere (often out of range).
    Readings come from :func:`sensor_readings` on the exact drawn geometry: 5 rays from
    ``((size-1)/2, size-1)`` at −60°, −30°, 0°, 30°, 60° (0° = up) with range ``0.55 * size``.

    Args:
        n: number of images, >= 1.
        seed: random seed; the same seed gives identical data.
        size: side of the square images in pixels, >= 32.
        obstacles: None for 1–3 random obstacles; ``"left"`` (``"right"``) for a single obstacle
            entirely in the left (right) half of the image, placed near the leftmost (rightmost)
            sensor's ray so that sensor 0 (4) reads > 0.
        camouflage: paint every obstacle in the floor's base colour instead of a colour far
            from it (drawn as usual otherwise: same shape, darker rim). Everything else — the
            geometry, the readings, the floor and the noise — is what the same ``seed`` gives
            without it, so the two sets differ only where the obstacles are. A failure case:
            the ``sensors`` model was trained on obstacles that stand out from the floor.

    Returns:
        :class:`Sensors` ``(images uint8 (n, size, size, 3), readings float32 (n, 5) in [0, 1],
        scenes list of n dicts)``.

    Raises:
        ArgumentError: ``n`` is not a positive integer, ``seed`` not an integer >= 0, ``size``
            not an integer >= 32, ``obstacles`` not None, ``"left"`` or ``"right"``, or
            ``camouflage`` not True or False.
    """
    n, seed, size = _check(n, seed, size)
    if obstacles is not None:
        _validate.one_of("obstacles", obstacles, ["left", "right"])
    if not isinstance(camouflage, (bool, np.bool_)):
        raise ArgumentError(f"camouflage must be True or False. Received: camouflage={camouflage!r}.")
    rng = np.random.default_rng([seed, 2])
    geo = _scene_geometry(size)
    images = np.empty((n, size, size, 3), np.uint8)
    readings = np.empty((n, len(SENSOR_ANGLES_DEG)), np.float32)
    scenes = []
    mid = (size - 1) / 2
    for i in range(n):
        img, floor_color = _floor(rng, size)
        placed: list[dict] = []
        if obstacles is None:
            for _ in range(int(rng.integers(1, 4))):
                for _try in range(100):
                    ob = _random_obstacle(rng, geo)
                    if _fits(ob, placed, geo, (0.5, size - 1.5)):
                        placed.append(ob)
                        break
        else:
            side = 0 if obstacles == "left" else len(SENSOR_ANGLES_DEG) - 1
            x_range = (0.5, mid - 1) if obstacles == "left" else (mid + 1, size - 1.5)
            while not placed:
                ob = _random_obstacle(rng, geo, SENSOR_ANGLES_DEG[side])
                if _fits(ob, [], geo, x_range) and sensor_readings([ob], size)[side] > 0.05:
                    placed.append(ob)
        colors = []
        for ob in placed:
            color = _random_color(rng, [floor_color] + colors, 120)
            colors.append(color)      # drawn even when camouflaged: the same random stream
            if camouflage:
                color = floor_color
            ob["color"] = tuple(int(round(c)) for c in color)
            _draw_obstacle(img, ob, color)
        _draw_robot(img, geo)
        img += rng.normal(0, 5, img.shape).astype(np.float32)
        images[i] = np.clip(img + 0.5, 0, 255).astype(np.uint8)
        readings[i] = sensor_readings(placed, size)
        scenes.append({**geo, "obstacles": placed})
    return Sensors(images, readings, scenes)


__all__ = ["SHAPE_CLASSES", "SENSOR_NAMES", "SENSOR_ANGLES_DEG", "Shapes", "Sensors", "shapes",
           "sensors", "sensor_readings", "obstacle_mask", "robot_mask"]
