"""The parties: creators (达人), organizations (商家/机构) and their accounts.

A user is either a creator or a member (main or sub account) of exactly one organization. The
database enforces what it can (one creator per user, one organization per user, one main account
per organization); ``clean()`` adds the rule that spans two tables (not both a creator and a member).
"""

from __future__ import annotations

import hashlib

from django.contrib.auth.models import AbstractUser
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _


class User(AbstractUser):
    """The project's user model (a custom one from day one, as Django recommends)."""

    class Meta(AbstractUser.Meta):
        swappable = "AUTH_USER_MODEL"
        verbose_name = _("用户")
        verbose_name_plural = _("用户")

    @property
    def creator_or_none(self) -> Creator | None:
        try:
            return self.creator
        except Creator.DoesNotExist:
            return None

    @property
    def membership_or_none(self) -> Membership | None:
        try:
            return self.membership
        except Membership.DoesNotExist:
            return None


class AvatarMixin:
    """Initials and a stable colour for people and organizations without an uploaded image."""

    AVATAR_COLOURS = ("#e8475f", "#f07f2c", "#d99b00", "#2f9e62", "#1f8fb3", "#3b6fd8", "#7651d6", "#c2458f")

    @property
    def initials(self) -> str:
        name = (self.name or "?").strip()
        if name and name.isascii():
            parts = name.split()
            return "".join(p[0] for p in parts[:2]).upper() or "?"
        return name[:1] or "?"

    @property
    def avatar_colour(self) -> str:
        digest = hashlib.sha1(f"{type(self).__name__}:{self.pk}".encode(), usedforsecurity=False).digest()
        return self.AVATAR_COLOURS[digest[0] % len(self.AVATAR_COLOURS)]


class CreatorQuerySet(models.QuerySet):
    def search(self, term: str) -> CreatorQuerySet:
        """Creators whose name or Douyin ID (抖音号) contains ``term``; all of them for no term."""
        term = (term or "").strip()
        if not term:
            return self
        return self.filter(models.Q(name__icontains=term) | models.Q(douyin_id__icontains=term))


class Creator(AvatarMixin, models.Model):
    """A livestream creator (达人): owns sales data and grants access to it."""

    user = models.OneToOneField(User, on_delete=models.CASCADE, related_name="creator", verbose_name=_("用户"))
    name = models.CharField(_("昵称"), max_length=100)
    douyin_id = models.CharField(_("抖音号"), max_length=64, unique=True)
    avatar = models.ImageField(_("头像"), upload_to="avatars/", blank=True)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)

    objects = CreatorQuerySet.as_manager()

    class Meta:
        verbose_name = _("达人")
        verbose_name_plural = _("达人")
        ordering = ["name", "pk"]

    def __str__(self) -> str:
        return f"{self.name} ({self.douyin_id})"

    def clean(self) -> None:
        super().clean()
        if self.user_id and Membership.objects.filter(user_id=self.user_id).exists():
            raise ValidationError(
                {"user": ValidationError(_("该用户已是商家/机构的账号，不能同时是达人。"), code="creator_is_member")}
            )


class Organization(AvatarMixin, models.Model):
    """A shop (商家/店铺) or an agency (机构): the party a creator grants access to."""

    class Kind(models.TextChoices):
        SHOP = "shop", _("商家")
        AGENCY = "agency", _("机构")

    name = models.CharField(_("名称"), max_length=100)
    kind = models.CharField(_("类型"), max_length=10, choices=Kind.choices)
    # A unique, stable code every organization has; the livestream import refers to shops by it.
    code = models.CharField(_("编码"), max_length=32, unique=True)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("商家/机构")
        verbose_name_plural = _("商家/机构")
        ordering = ["name", "pk"]

    def __str__(self) -> str:
        return self.name

    @property
    def main_account(self) -> User | None:
        """The organization's one main account (主账号)."""
        membership = self.memberships.select_related("user").filter(role=Membership.Role.MAIN).first()
        return membership.user if membership else None


class Membership(models.Model):
    """A user's account in an organization: the main account (主账号) or a sub-account (子账号)."""

    class Role(models.TextChoices):
        MAIN = "main", _("主账号")
        SUB = "sub", _("子账号")

    # One-to-one: a user belongs to at most one organization.
    user = models.OneToOneField(User, on_delete=models.CASCADE, related_name="membership", verbose_name=_("用户"))
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="memberships", verbose_name=_("商家/机构")
    )
    role = models.CharField(_("角色"), max_length=10, choices=Role.choices)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("账号")
        verbose_name_plural = _("账号")
        constraints = [
            models.UniqueConstraint(
                fields=["organization"],
                condition=models.Q(role="main"),
                name="one_main_account_per_organization",
                violation_error_message=_("每个商家/机构只能有一个主账号。"),
            ),
            models.CheckConstraint(condition=models.Q(role__in=["main", "sub"]), name="membership_role_valid"),
        ]
        indexes = [models.Index(fields=["organization", "role"], name="membership_org_role")]

    def __str__(self) -> str:
        return f"{self.user} @ {self.organization} ({self.get_role_display()})"

    @property
    def is_main(self) -> bool:
        return self.role == self.Role.MAIN

    def clean(self) -> None:
        super().clean()
        if self.user_id and Creator.objects.filter(user_id=self.user_id).exists():
            raise ValidationError(
                {"user": ValidationError(_("该用户已是达人，不能同时是商家/机构的账号。"), code="member_is_creator")}
            )
