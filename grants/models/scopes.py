"""A grant's scope (授权范围, SPEC §12): the parts of a creator's data it opens, as a bit mask."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

# --- scopes (授权范围, SPEC §12) ------------------------------------------------------------------

PARTS = ("overview", "products", "livestreams", "modules")
"""What a full-data grant covers (SPEC §12): 数据概览 (KPIs, daily trend), 商品与店铺 (top products and
shops), 直播列表 (the livestream list and its CSV), 直播间模块 (the three modules of every livestream)."""
PART_LABELS = {
    "overview": _("数据概览"),
    "products": _("商品与店铺"),
    "livestreams": _("直播列表"),
    "modules": _("直播间模块"),
}
# A scope is stored as a bit mask of PARTS (one small integer: the access query reads it with the
# grant's row, and a delegation's effective scope is the bitwise AND of two columns).
PART_BITS = {part: 1 << index for index, part in enumerate(PARTS)}
FULL_SCOPE = sum(PART_BITS.values())


def scope_of(parts) -> int:
    """The bit mask of ``parts`` (an iterable of PARTS; unknown names raise ValueError)."""
    mask = 0
    for part in parts:
        if part not in PART_BITS:
            raise ValueError(f"unknown part {part!r}")
        mask |= PART_BITS[part]
    return mask


def parts_of(scope: int | None) -> frozenset[str]:
    """The PARTS a bit mask covers."""
    return frozenset(part for part, bit in PART_BITS.items() if (scope or 0) & bit)


def scope_labels(scope: int | None) -> list:
    """The covered parts' labels, in PARTS order (the lists and the history show them)."""
    return [PART_LABELS[part] for part in PARTS if (scope or 0) & PART_BITS[part]]
