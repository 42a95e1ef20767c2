"""The loss curve of a training job as an inline SVG.

Built with Markup.format, which escapes every value put into the markup: the
labels and title are text, never markup, whatever they contain. Colours are
SVG attributes, not style, so the page's Content-Security-Policy allows them.
"""

import math

from markupsafe import Markup

WIDTH, HEIGHT = 480, 240
LEFT, RIGHT, TOP, BOTTOM = 56, 12, 28, 36  # margins, for the axes' labels
SERIES = (("loss", 1, "#3b4f7a"), ("validation loss", 2, "#a23b3b"))


def loss_curve_svg(points, title="Loss"):
    """An SVG drawing `points` ([[step, loss, val_loss], ...]; a loss may be
    None) as one line per series, or None when there is nothing to draw."""
    rows = [row for row in points or () if _number(row[0])]
    values = [row[i] for row in rows for i in (1, 2) if i < len(row)]
    values = [value for value in values if _number(value)]
    if not rows or not values:
        return None
    steps = (min(row[0] for row in rows), max(row[0] for row in rows))
    losses = (min(values), max(values))
    parts = [_axes(steps, losses, title)]
    for label, index, colour in SERIES:
        line = [(row[0], row[index]) for row in rows if _has(row, index)]
        if line:
            parts.append(_polyline(line, steps, losses, colour, label))
    body = Markup("").join(parts)
    return Markup(
        '<svg xmlns="http://www.w3.org/2000/svg" class="loss-curve" '
        'viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" '
        'aria-label="{title}"><title>{title}</title>{body}</svg>'
    ).format(w=WIDTH, h=HEIGHT, title=title, body=body)


def _number(value):
    return isinstance(value, int | float) and math.isfinite(value)


def _has(row, index):
    return index < len(row) and _number(row[index])


def _scale(value, bounds, start, length):
    low, high = bounds
    return start + (value - low) / (high - low) * length if high > low else start


def _x(step, steps):
    return _scale(step, steps, LEFT, WIDTH - LEFT - RIGHT)


def _y(loss, losses):
    return HEIGHT - _scale(loss, losses, BOTTOM, HEIGHT - TOP - BOTTOM)


def _polyline(line, steps, losses, colour, label):
    coordinates = " ".join(
        f"{_x(step, steps):.1f},{_y(loss, losses):.1f}" for step, loss in line
    )
    return Markup(
        '<polyline fill="none" stroke="{colour}" stroke-width="2" '
        'points="{points}"><title>{label}</title></polyline>'
    ).format(colour=colour, points=coordinates, label=label)


def _axes(steps, losses, title):
    """The frame, the extreme values on each axis, the title and a legend."""
    bottom, right = HEIGHT - BOTTOM, WIDTH - RIGHT
    texts = [
        (LEFT - 4, TOP + 4, "end", f"{losses[1]:.3g}"),
        (LEFT - 4, bottom, "end", f"{losses[0]:.3g}"),
        (LEFT, bottom + 16, "start", f"step {steps[0]:g}"),
        (right, bottom + 16, "end", f"step {steps[1]:g}"),
        (LEFT, TOP - 10, "start", title),
    ]
    legend = [
        (right - 130 * (len(SERIES) - n) + 130, TOP - 10, "end", label, colour)
        for n, (label, _index, colour) in enumerate(SERIES)
    ]
    frame = Markup(
        '<rect x="{x}" y="{y}" width="{w}" height="{h}" fill="none" stroke="#999"/>'
    ).format(x=LEFT, y=TOP, w=right - LEFT, h=bottom - TOP)
    labels = [_text(x, y, anchor, text) for x, y, anchor, text in texts]
    labels += [
        _text(x, y, anchor, text, colour) for x, y, anchor, text, colour in legend
    ]
    return frame + Markup("").join(labels)


def _text(x, y, anchor, text, colour="#333"):
    return Markup(
        '<text x="{x}" y="{y}" text-anchor="{anchor}" font-size="11" '
        'fill="{colour}">{text}</text>'
    ).format(x=x, y=y, anchor=anchor, colour=colour, text=text)
