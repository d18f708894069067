"""Every ad the shop can show: house ads for anywhere, and ads for each product category.

Plain data, so that adding an ad is adding one line. Targets are paths inside the shop.
"""

from __future__ import annotations

from typing import NamedTuple

GENERAL = "general"
CATEGORIES = ("kitchen", "outdoor", "electronics", "apparel")


class Ad(NamedTuple):
    id: str
    title: str
    text: str
    category: str
    target_url: str


def _house(ad_id: str, title: str, text: str) -> Ad:
    return Ad(ad_id, title, text, GENERAL, "/")


def _for(category: str, ad_id: str, title: str, text: str) -> Ad:
    return Ad(ad_id, title, text, category, f"/?category={category}")


# One ad a row: the rows of this table look alike by design.
ADS: tuple[Ad, ...] = (
    _house("free-shipping", "Free shipping", "Free delivery on every order over $50, all year round."),
    _house("seasonal-sale", "Seasonal sale", "Up to 30% off across the shop while the season lasts."),
    _house("gift-cards", "Gift cards", "Not sure what they'd like? Let them choose with a shop gift card."),
    _house("easy-returns", "Easy returns", "Changed your mind? Returns are free for 30 days."),
    _house("newsletter", "Join the newsletter", "New arrivals & members-only offers, once a week."),
    _for("kitchen", "kitchen-pots-pans", "Pots & Pans week", "Cookware sets for every stove, 20% off."),
    _for("kitchen", "kitchen-knives", "Sharper knives", "Chef's knives & whetstones for the serious cook."),
    _for("kitchen", "kitchen-coffee", "Better coffee", "Grinders, kettles and pour-over kits for mornings."),
    _for("outdoor", "outdoor-camping", "Camp in comfort", "Tents, sleeping bags & stoves for the weekend."),
    _for("outdoor", "outdoor-hiking", "Hit the trail", "Backpacks and bottles built for long hikes."),
    _for("outdoor", "outdoor-garden", "Garden season", "Tools and planters to get the garden growing."),
    _for("electronics", "electronics-audio", "Hear every note", "Headphones & speakers, deep and clear."),
    _for("electronics", "electronics-charging", "Never run flat", "Fast chargers, cables and power banks."),
    _for("electronics", "electronics-smart-home", "Smart home", "Lights & plugs you switch from your phone."),
    _for("apparel", "apparel-jackets", "Stay dry", "Rain jackets & shells for wet-weather days."),
    _for("apparel", "apparel-basics", "Everyday basics", "Tees, socks and hoodies in every size."),
    _for("apparel", "apparel-shoes", "Step out", "Trainers and boots for town and trail."),
)

BY_ID: dict[str, Ad] = {ad.id: ad for ad in ADS}


def ads_in(category: str) -> tuple[Ad, ...]:
    """The ads of one category ("general" for house ads); empty for an unknown one."""
    return tuple(ad for ad in ADS if ad.category == category)
