"""A cold-chain leg (api/cold_chain.py) as an accessible SVG chart, rendered on the server.

No script and no style element (the page's CSP allows neither for this): presentation attributes
only. A viewBox 400 units wide scales to the page's width (readable at 320 px); <title> and <desc>
give the chart in words. The agreed band is shaded with its limits labelled, the window spans the
x axis, each sensor's readings are a line, every excursion is shaded and marked by a triangle at
its peak with its value (shape and text, not colour alone), data gaps are hatched; humidity and
shock get a panel only when the terms set them. Every text goes through the caller's gettext,
every time through its format_time, and everything interpolated is escaped.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from html import escape
from typing import Any

from markupsafe import Markup

from api.cold_chain_series import SeriesPoint, downsample, measures

Gettext = Callable[[str], str]
FormatTime = Callable[[datetime], str]

WIDTH = 400
LEFT, RIGHT = 46, 10
PLOT_W = WIDTH - LEFT - RIGHT
TEMP_H, SIDE_H, GAP = 170, 70, 34
FONT = 13
# Against white: text and marks at least 4.5:1 (WCAG AA for text), fills are only backgrounds.
INK = "#1f2937"  # 14.7:1
BAND_LINE = "#047857"  # 5.5:1
BAND_FILL = "#d1fae5"
HOT = "#b91c1c"  # 6.5:1
HOT_FILL = "#fee2e2"
GAP_LINE = "#4b5563"  # 7.6:1
LINES = ("#1d4ed8", "#6d28d9", "#0f766e", "#9a3412")  # 6.7, 7.1, 5.5, 7.3 : 1
DASHES = ("", "6 3", "2 2", "8 2 2 2")
CHART_BUCKETS = 200


def _ms(iso: str) -> int:
    return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000)


def _dt(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def _num(value: float) -> str:
    """A value as people write it: 8, 9.5 (no trailing zeros)."""
    return f"{value:.2f}".rstrip("0").rstrip(".")


def _a(value: object) -> str:
    """An attribute value or text, escaped."""
    return escape(str(value), quote=True)


def _f(value: float) -> str:
    return f"{value:.1f}"


@dataclass(frozen=True)
class _Panel:
    """A panel's y range mapped onto [top, top + height] of the viewBox."""

    top: float
    height: float
    low: float
    high: float

    def y(self, value: float) -> float:
        span = self.high - self.low or 1.0
        return self.top + (self.high - value) / span * self.height


@dataclass(frozen=True)
class _Time:
    start: int
    end: int

    def x(self, ms: int) -> float:
        span = self.end - self.start or 1
        return LEFT + (min(max(ms, self.start), self.end) - self.start) / span * PLOT_W


def _points(leg: Mapping[str, Any], humidity: bool, shock: bool) -> list[list[SeriesPoint]]:
    """Each sensor's points, bounded again here whatever the leg holds."""
    watched = measures(humidity, shock)
    lines = []
    for line in leg.get("series") or []:
        points = sorted(
            (
                SeriesPoint(_ms(p["at"]), float(p["c"]), p.get("rh"), p.get("g"))
                for p in line
                if isinstance(p, Mapping)
            ),
            key=lambda p: p.at_ms,
        )
        lines.append(downsample(points, CHART_BUCKETS, watched))
    return lines


def _polyline(points: Sequence[tuple[float, float]], colour: str, dash: str, label: str) -> str:
    coords = " ".join(f"{_f(x)},{_f(y)}" for x, y in points)
    dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
    if len(points) == 1:
        x, y = points[0]
        return (
            f'<circle cx="{_f(x)}" cy="{_f(y)}" r="2.5" fill="{colour}">'
            f"<title>{label}</title></circle>"
        )
    return (
        f'<polyline points="{coords}" fill="none" stroke="{colour}" stroke-width="1.6"'
        f'{dash_attr} stroke-linejoin="round"><title>{label}</title></polyline>'
    )


def _triangle(x: float, y: float, size: float = 6) -> str:
    """An upward triangle centred on (x, y): the excursion's and the shock's mark."""
    base = _f(y + size * 0.7)
    return f"{_f(x)},{_f(y - size)} {_f(x - size)},{base} {_f(x + size)},{base}"


def _text(
    x: float, y: float, text: str, anchor: str = "start", colour: str = INK, **attrs: str
) -> str:
    extra = "".join(f' {k.rstrip("_").replace("_", "-")}="{_a(v)}"' for k, v in attrs.items())
    return (
        f'<text x="{_f(x)}" y="{_f(y)}" font-size="{FONT}" fill="{colour}" '
        f'text-anchor="{anchor}"{extra}>{_a(text)}</text>'
    )


class _Chart:
    def __init__(self, leg: Mapping[str, Any], gettext: Gettext, format_time: FormatTime) -> None:
        self.leg = leg
        self._ = gettext
        self.fmt = format_time
        window = leg["window"]
        self.time = _Time(_ms(window["start"]), _ms(window["end"]))
        self.band = (float(leg["band"]["minC"]), float(leg["band"]["maxC"]))
        self.humidity = leg.get("humidityBand")
        self.shock = leg.get("maxShockMilliG")
        self.lines = _points(leg, self.humidity is not None, self.shock is not None)
        self.parts: list[str] = []

    def t(self, ms: int) -> str:
        return self.fmt(_dt(ms))

    def c(self, value: float) -> str:
        return self._("%(value)s °C") % {"value": _num(value)}

    # -- panels ---------------------------------------------------------------------------

    def temperature(self, top: float) -> float:
        _ = self._
        values = [p.c for line in self.lines for p in line]
        low, high = min([*values, self.band[0]]), max([*values, self.band[1]])
        pad = max(1.0, (high - low) * 0.18)  # room for a peak's mark
        panel = _Panel(top + 16, TEMP_H, low - pad, high + pad)
        self.parts.append(_text(LEFT, top + 11, _("Temperature (°C)"), font_weight="bold"))
        self._frame(panel, "cc-plot")
        for start, end in self._spans("gaps"):
            x0, x1 = self.time.x(start), self.time.x(end)
            self.parts.append(
                f'<rect class="cc-gap" x="{_f(x0)}" y="{_f(panel.top)}" '
                f'width="{_f(max(x1 - x0, 1))}" '
                f'height="{_f(panel.height)}" fill="url(#{self.uid}-hatch)" stroke="{GAP_LINE}" '
                f'stroke-dasharray="2 2"><title>{_a(_("No readings"))}</title></rect>'
            )
        y_max, y_min = panel.y(self.band[1]), panel.y(self.band[0])
        self.parts.append(
            f'<rect class="cc-band" x="{LEFT}" y="{_f(y_max)}" width="{PLOT_W}" '
            f'height="{_f(y_min - y_max)}" fill="{BAND_FILL}" '
            f'data-min-c="{_a(_num(self.band[0]))}" '
            f'data-max-c="{_a(_num(self.band[1]))}"><title>{_a(self._band_words())}</title></rect>'
        )
        for value, y in ((self.band[1], y_max), (self.band[0], y_min)):
            self.parts.append(
                f'<line x1="{LEFT}" y1="{_f(y)}" x2="{LEFT + PLOT_W}" y2="{_f(y)}" '
                f'stroke="{BAND_LINE}" stroke-width="1.2" stroke-dasharray="5 3"/>'
            )
            self.parts.append(
                _text(LEFT - 4, y + 4, self.c(value), "end", BAND_LINE, class_="cc-limit")
            )
        for excursion in self.leg.get("excursions") or []:
            if excursion.get("cause") != "humidity":
                self._excursion(panel, excursion)
        self._lines(panel, lambda p: p.c, _("Sensor %(n)s"))
        return panel.top + panel.height

    def _excursion(self, panel: _Panel, excursion: Mapping[str, Any]) -> None:
        _ = self._
        x0, x1 = self.time.x(_ms(excursion["start"])), self.time.x(_ms(excursion["end"]))
        self.parts.append(
            f'<rect class="cc-excursion" x="{_f(x0)}" y="{_f(panel.top)}" '
            f'width="{_f(max(x1 - x0, 2))}" height="{_f(panel.height)}" fill="{HOT_FILL}" '
            f'stroke="{HOT}" stroke-width="0.8"/>'
        )
        if excursion.get("peakC") is None or excursion.get("peakAt") is None:
            return
        peak, at = float(excursion["peakC"]), _ms(excursion["peakAt"])
        x, y = self.time.x(at), panel.y(peak)
        words = _("Outside the band: %(value)s at %(time)s, %(minutes)s min counted") % {
            "value": self.c(peak),
            "time": self.t(at),
            "minutes": excursion.get("minutes", 0),
        }
        above = peak > self.band[1]
        mark_y = y - 9 if above else y + 9
        self.parts.append(
            f'<polygon class="cc-peak" points="{_triangle(x, mark_y)}" fill="{HOT}" '
            f'stroke="#ffffff" stroke-width="1" data-at="{_a(excursion["peakAt"])}">'
            f"<title>{_a(words)}</title></polygon>"
        )
        right = x < LEFT + PLOT_W * 0.7
        label_x = x + 9 if right else x - 9
        self.parts.append(
            _text(
                label_x,
                mark_y + 4,
                self.c(peak),
                "start" if right else "end",
                HOT,
                font_weight="bold",
            )
        )

    def humidity_panel(self, top: float) -> float:
        _ = self._
        band = self.humidity or {}
        values = [p.rh for line in self.lines for p in line if p.rh is not None]
        limits = [float(v) for v in (band.get("minPct"), band.get("maxPct")) if v is not None]
        low, high = min([*values, *limits, 0.0]), max([*values, *limits, 100.0])
        panel = _Panel(top + 16, SIDE_H, low, high)
        self.parts.append(_text(LEFT, top + 11, _("Humidity (%)"), font_weight="bold"))
        self._frame(panel, "cc-humidity")
        lo = float(band["minPct"]) if band.get("minPct") is not None else low
        hi = float(band["maxPct"]) if band.get("maxPct") is not None else high
        self.parts.append(
            f'<rect class="cc-humidity-band" x="{LEFT}" y="{_f(panel.y(hi))}" width="{PLOT_W}" '
            f'height="{_f(panel.y(lo) - panel.y(hi))}" fill="{BAND_FILL}"/>'
        )
        for value in limits:
            y = panel.y(value)
            self.parts.append(
                f'<line x1="{LEFT}" y1="{_f(y)}" x2="{LEFT + PLOT_W}" y2="{_f(y)}" '
                f'stroke="{BAND_LINE}" stroke-dasharray="5 3"/>'
            )
            label = _("%(value)s %%") % {"value": _num(value)}
            self.parts.append(_text(LEFT - 4, y + 4, label, "end", BAND_LINE))
        for excursion in self.leg.get("excursions") or []:
            if excursion.get("cause") == "humidity":
                self._humidity_excursion(panel, excursion)
        self._lines(panel, lambda p: p.rh, _("Sensor %(n)s, humidity"))
        return panel.top + panel.height

    def _humidity_excursion(self, panel: _Panel, excursion: Mapping[str, Any]) -> None:
        start, end = _ms(excursion["start"]), _ms(excursion["end"])
        x0, x1 = self.time.x(start), self.time.x(end)
        words = self._("Outside the humidity band from %(start)s to %(end)s") % {
            "start": self.t(start),
            "end": self.t(end),
        }
        self.parts.append(
            f'<rect class="cc-excursion" x="{_f(x0)}" y="{_f(panel.top)}" '
            f'width="{_f(max(x1 - x0, 2))}" height="{_f(panel.height)}" fill="{HOT_FILL}" '
            f'stroke="{HOT}" stroke-width="0.8" fill-opacity="0.8"/>'
            f'<polygon class="cc-humidity-mark" points="{_triangle(x0 + 7, panel.top + 9)}" '
            f'fill="{HOT}"><title>{_a(words)}</title></polygon>'
        )

    def shock_panel(self, top: float) -> float:
        _ = self._
        limit = float(self.shock or 0)
        values = [float(p.g) for line in self.lines for p in line if p.g is not None]
        panel = _Panel(top + 16, SIDE_H, 0.0, max([*values, limit * 1.25, 1.0]))
        self.parts.append(_text(LEFT, top + 11, _("Shock (mg)"), font_weight="bold"))
        self._frame(panel, "cc-shock")
        y = panel.y(limit)
        self.parts.append(
            f'<line class="cc-shock-limit" x1="{LEFT}" y1="{_f(y)}" x2="{LEFT + PLOT_W}" '
            f'y2="{_f(y)}" stroke="{BAND_LINE}" stroke-dasharray="5 3"/>'
        )
        self.parts.append(_text(LEFT - 4, y + 4, _num(limit), "end", BAND_LINE))
        if not self.leg.get("shocks"):
            words = _("No shock above %(limit)s mg") % {"limit": _num(limit)}
            self.parts.append(
                _text(LEFT + PLOT_W / 2, panel.top + panel.height - 10, words, "middle")
            )
        for line in self.lines:
            for p in line:
                if p.g is None or p.g <= limit:
                    continue
                x, y = self.time.x(p.at_ms), panel.y(p.g)
                words = _("Shock of %(value)s mg at %(time)s") % {
                    "value": p.g,
                    "time": self.t(p.at_ms),
                }
                self.parts.append(
                    f'<line x1="{_f(x)}" y1="{_f(panel.top + panel.height)}" x2="{_f(x)}" '
                    f'y2="{_f(y)}" stroke="{HOT}" stroke-width="1.5"/>'
                    f'<polygon class="cc-shock-mark" points="{_triangle(x, y)}" fill="{HOT}">'
                    f"<title>{_a(words)}</title></polygon>"
                )
        return panel.top + panel.height

    # -- pieces ---------------------------------------------------------------------------

    def _frame(self, panel: _Panel, cls: str) -> None:
        self.parts.append(
            f'<rect class="{cls}" x="{LEFT}" y="{_f(panel.top)}" width="{PLOT_W}" '
            f'height="{_f(panel.height)}" fill="#ffffff" stroke="{GAP_LINE}" stroke-width="0.8"/>'
        )

    def _spans(self, key: str) -> list[tuple[int, int]]:
        return [(_ms(s["start"]), _ms(s["end"])) for s in self.leg.get(key) or []]

    def _lines(
        self, panel: _Panel, value: Callable[[SeriesPoint], float | None], name: str
    ) -> None:
        for i, line in enumerate(self.lines):
            points = [
                (self.time.x(p.at_ms), panel.y(v)) for p in line if (v := value(p)) is not None
            ]
            if points:
                label = _a(name % {"n": i + 1})
                self.parts.append(
                    _polyline(points, LINES[i % len(LINES)], DASHES[i % len(DASHES)], label)
                )

    def axis(self, top: float) -> float:
        _ = self._
        start, end = self.time.start, self.time.end
        y = top + 16
        self.parts.append(_text(LEFT, y, self.t(start), "start", class_="cc-time"))
        self.parts.append(_text(LEFT + PLOT_W, y, self.t(end), "end", class_="cc-time"))
        finished = self.leg.get("status") == "delivered"
        self.parts.append(_text(LEFT, y + 15, _("Shipped"), "start"))
        self.parts.append(
            _text(LEFT + PLOT_W, y + 15, _("Delivered") if finished else _("Now"), "end")
        )
        return y + 15

    def legend(self, top: float) -> float:
        _ = self._
        rows: list[tuple[Callable[[float], str], str]] = [
            (
                lambda y: (
                    f'<rect x="{LEFT}" y="{_f(y - 9)}" width="14" height="10" '
                    f'fill="{BAND_FILL}" stroke="{BAND_LINE}" stroke-dasharray="5 3"/>'
                ),
                self._band_words(),
            )
        ]
        if self.leg.get("excursions"):
            rows.append(
                (
                    lambda y: f'<polygon points="{_triangle(LEFT + 7, y - 4, 5)}" fill="{HOT}"/>',
                    _("Outside the band (peak marked)"),
                )
            )
        if self.leg.get("gaps"):
            rows.append(
                (
                    lambda y: (
                        f'<rect x="{LEFT}" y="{_f(y - 9)}" width="14" height="10" '
                        f'fill="url(#{self.uid}-hatch)" stroke="{GAP_LINE}"/>'
                    ),
                    _("No readings"),
                )
            )
        if len(self.lines) > 1:
            for i in range(len(self.lines)):
                rows.append((self._line_swatch(i), _("Sensor %(n)s") % {"n": i + 1}))
        y = top + 20
        for swatch, words in rows:
            self.parts.append(swatch(y))
            self.parts.append(_text(LEFT + 20, y, words))
            y += 17
        return y - 12

    @staticmethod
    def _line_swatch(i: int) -> Callable[[float], str]:
        dash = DASHES[i % len(DASHES)]
        dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
        return lambda y: (
            f'<line x1="{LEFT}" y1="{_f(y - 4)}" x2="{LEFT + 14}" y2="{_f(y - 4)}" '
            f'stroke="{LINES[i % len(LINES)]}" stroke-width="2"{dash_attr}/>'
        )

    def _band_words(self) -> str:
        return self._("Agreed band: %(min)s to %(max)s") % {
            "min": self.c(self.band[0]),
            "max": self.c(self.band[1]),
        }

    # -- the whole ------------------------------------------------------------------------

    @property
    def uid(self) -> str:
        seed = f"{self.leg['window']['start']}|{self.leg['window']['end']}".encode()
        return "cc" + hashlib.sha256(seed).hexdigest()[:8]

    def summary(self) -> str:
        _ = self._
        leg = self.leg
        words = [
            _("Temperature readings from %(start)s to %(end)s: %(count)s readings.")
            % {
                "start": self.t(self.time.start),
                "end": self.t(self.time.end),
                "count": leg.get("readingCount", 0),
            },
            self._band_words() + ".",
        ]
        excursions = leg.get("excursions") or []
        for excursion in excursions:
            if excursion.get("peakC") is not None:
                words.append(
                    _("Outside the band from %(start)s to %(end)s, up to %(value)s.")
                    % {
                        "start": self.t(_ms(excursion["start"])),
                        "end": self.t(_ms(excursion["end"])),
                        "value": self.c(float(excursion["peakC"])),
                    }
                )
            else:
                words.append(
                    _("Outside the humidity band from %(start)s to %(end)s.")
                    % {
                        "start": self.t(_ms(excursion["start"])),
                        "end": self.t(_ms(excursion["end"])),
                    }
                )
        if not excursions:
            words.append(_("Kept within the band throughout."))
        if leg.get("gaps"):
            words.append(_("Some stretches have no readings."))
        words.append(
            _("Minutes counted against the agreed terms: %(minutes)s.")
            % {"minutes": leg.get("excursionMinutes", 0)}
        )
        if self.shock is not None:
            words.append(
                _("Shocks above %(limit)s mg: %(count)s.")
                % {"limit": self.shock, "count": leg.get("shocks") or 0}
            )
        return " ".join(words)

    def render(self) -> Markup:
        _ = self._
        y = self.temperature(0)
        if self.humidity is not None:
            y = self.humidity_panel(y + 8)
        if self.shock is not None:
            y = self.shock_panel(y + 8)
        y = self.axis(y)
        y = self.legend(y)
        height = int(y + 8)
        uid = self.uid
        head = (
            f'<svg xmlns="http://www.w3.org/2000/svg" class="cold-chain-chart" role="img" '
            f'viewBox="0 0 {WIDTH} {height}" width="100%" preserveAspectRatio="xMidYMin meet" '
            f'aria-labelledby="{uid}-title {uid}-desc" font-family="system-ui, sans-serif">'
            f'<title id="{uid}-title">{_a(_("Temperature during the shipment"))}</title>'
            f'<desc id="{uid}-desc">{_a(self.summary())}</desc>'
            f'<defs><pattern id="{uid}-hatch" width="6" height="6" patternUnits="userSpaceOnUse" '
            f'patternTransform="rotate(45)"><rect width="6" height="6" fill="#f3f4f6"/>'
            f'<line x1="0" y1="0" x2="0" y2="6" stroke="{GAP_LINE}" stroke-width="1.2"/>'
            f"</pattern></defs>"
        )
        return Markup(head + "".join(self.parts) + "</svg>")


def render_chart(leg: Mapping[str, Any], gettext: Gettext, format_time: FormatTime) -> Markup:
    """The SVG markup of one `coldChain` leg. `gettext(msgid) -> str` is a plain gettext (the
    msgids carry %(name)s placeholders this fills); `format_time(aware UTC datetime) -> str`
    words a time in the viewer's zone and language."""
    return _Chart(leg, gettext, format_time).render()
