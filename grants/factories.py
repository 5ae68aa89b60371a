"""Factories for grants (factory-boy), used by the tests and by ``seed_demo``.

``GrantFactory(creator=..., organization=..., starts_on=..., ends_on=...)`` writes a grant directly
(test set-up may need periods in the past, which the services rightly refuse), with its
"authorize" history event. Traits: ``scheduled``, ``expired``, ``revoked``; the default is active.

``GrantRequestFactory(creator=..., organization=...)`` and ``LivestreamAccessRequestFactory(
livestream=..., organization=...)`` write a pending request directly, with its "request" event at
its ``created_at`` (trait ``expired``: made 8 days ago, so it reads "expired" now). No message is
written: set-up, not a change anyone is told of.
"""

import datetime

import factory
from django.utils import timezone
from factory.django import DjangoModelFactory

from portal.factories import CreatorFactory, ShopFactory

from .models import (
    Grant,
    GrantEvent,
    GrantRequest,
    GrantRequestEvent,
    LivestreamAccessEvent,
    LivestreamAccessRequest,
)


def _today() -> datetime.date:
    return timezone.localdate()


def _days(n: int) -> datetime.date:
    return _today() + datetime.timedelta(days=n)


class GrantFactory(DjangoModelFactory):
    class Meta:
        model = Grant
        skip_postgeneration_save = True

    creator = factory.SubFactory(CreatorFactory)
    organization = factory.SubFactory(ShopFactory)
    starts_on = factory.LazyFunction(lambda: _days(-10))
    ends_on = factory.LazyFunction(lambda: _days(30))

    class Params:
        scheduled = factory.Trait(
            starts_on=factory.LazyFunction(lambda: _days(5)), ends_on=factory.LazyFunction(lambda: _days(35))
        )
        expired = factory.Trait(
            starts_on=factory.LazyFunction(lambda: _days(-40)), ends_on=factory.LazyFunction(lambda: _days(-1))
        )
        revoked = factory.Trait(
            revoked_at=factory.LazyFunction(timezone.now), revoked_by=factory.SelfAttribute("creator.user")
        )

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        # As the authorize service does: the pair's earlier grants stop being its latest.
        model_class.objects.filter(
            creator=kwargs["creator"], organization=kwargs["organization"], is_latest=True
        ).update(is_latest=False)
        return super()._create(model_class, *args, **kwargs)

    @factory.post_generation
    def history(obj, create, extracted, **kwargs):
        """The authorize event (and the revoke event of a revoked grant), as the services would write."""
        if not create or extracted is False:
            return
        GrantEvent.objects.create(
            grant=obj, operation=GrantEvent.Operation.AUTHORIZE, actor=obj.creator.user,
            at=timezone.make_aware(datetime.datetime.combine(min(obj.starts_on, _today()), datetime.time(10))),
            starts_after=obj.starts_on, ends_after=obj.ends_on,
        )  # fmt: skip
        if obj.revoked_at:
            GrantEvent.objects.create(
                grant=obj, operation=GrantEvent.Operation.REVOKE, actor=obj.revoked_by, at=obj.revoked_at,
                starts_before=obj.starts_on, ends_before=obj.ends_on,
                starts_after=obj.starts_on, ends_after=obj.ends_on,
            )  # fmt: skip


def _days_ago(n: float) -> datetime.datetime:
    return timezone.now() - datetime.timedelta(days=n)


class GrantRequestFactory(DjangoModelFactory):
    """A pending full-data request (``kind="extension"`` with ``grant=`` for an extension)."""

    class Meta:
        model = GrantRequest
        skip_postgeneration_save = True

    creator = factory.SubFactory(CreatorFactory)
    organization = factory.SubFactory(ShopFactory)
    kind = GrantRequest.Kind.GRANT
    starts_on = factory.LazyFunction(_today)
    ends_on = factory.LazyFunction(lambda: _days(89))
    requested_by = factory.LazyAttribute(lambda o: o.organization.main_account)
    created_at = factory.LazyFunction(timezone.now)

    class Params:
        expired = factory.Trait(
            created_at=factory.LazyFunction(lambda: _days_ago(8)),
            starts_on=factory.LazyFunction(lambda: _days(-7)),
            ends_on=factory.LazyFunction(lambda: _days(60)),
        )

    @factory.post_generation
    def history(obj, create, extracted, **kwargs):
        if create and extracted is not False:
            GrantRequestEvent.objects.create(
                request=obj, operation=GrantRequestEvent.Operation.REQUEST, actor=obj.requested_by,
                at=obj.created_at, starts_on=obj.starts_on, ends_on=obj.ends_on,
            )  # fmt: skip


class LivestreamAccessRequestFactory(DjangoModelFactory):
    """A pending livestream request (``livestream`` and ``organization`` required)."""

    class Meta:
        model = LivestreamAccessRequest
        skip_postgeneration_save = True

    # The creator the request is made to: its livestream's, as request_livestream_access sets it.
    creator_id = factory.LazyAttribute(lambda o: o.livestream.creator_id)
    requested_by = factory.LazyAttribute(lambda o: o.organization.main_account)
    created_at = factory.LazyFunction(timezone.now)

    class Params:
        expired = factory.Trait(created_at=factory.LazyFunction(lambda: _days_ago(8)))

    @factory.post_generation
    def history(obj, create, extracted, **kwargs):
        if create and extracted is not False:
            LivestreamAccessEvent.objects.create(
                request=obj,
                operation=LivestreamAccessEvent.Operation.REQUEST,
                actor=obj.requested_by,
                at=obj.created_at,
            )
