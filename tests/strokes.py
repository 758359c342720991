"""A pen and a finger on the site's canvas in Playwright's Chromium, for the browser tests and bench/."""
from __future__ import annotations

# The phone the touch tests and screenshots use: an iPhone-sized screen, touch only.
PHONE = dict(viewport={"width": 390, "height": 844}, has_touch=True, is_mobile=True, device_scale_factor=3)


def stroke(page, box, points) -> None:
    """One pen stroke through `points`, given as fractions of the canvas' width and height."""
    x0, y0, width, height = box["x"], box["y"], box["width"], box["height"]
    page.mouse.move(x0 + points[0][0] * width, y0 + points[0][1] * height)
    page.mouse.down()
    for x, y in points[1:]:
        page.mouse.move(x0 + x * width, y0 + y * height, steps=20)
    page.mouse.up()


def touch_stroke(cdp, box, points, steps: int = 12) -> None:
    """One finger stroke through `points` (fractions of the canvas' width and height)."""
    def at(x, y):
        return [{"x": box["x"] + x * box["width"], "y": box["y"] + y * box["height"]}]

    cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": at(*points[0])})
    for (x0, y0), (x1, y1) in zip(points, points[1:]):
        for i in range(1, steps + 1):
            t = i / steps
            cdp.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": at(x0 + t * (x1 - x0),
                                                                                       y0 + t * (y1 - y0))})
    cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
