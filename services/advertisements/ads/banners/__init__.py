"""Banner pictures: an SVG per ad and version label, generated, with no external assets."""

from ads.banners.views import bp, render_banner

__all__ = ["bp", "render_banner"]
