import factory

from members.models import Member, Tag, Tier


class TierFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Tier
        django_get_or_create = ["code"]

    code = factory.Sequence(lambda n: f"tier{n}")
    name = factory.LazyAttribute(lambda tier: tier.code.title())
    rank = factory.Sequence(lambda n: 100 + n)


class TagFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Tag
        django_get_or_create = ["code"]

    code = factory.Sequence(lambda n: f"tag{n}")
    name = factory.LazyAttribute(lambda tag: tag.code)


class MemberFactory(factory.django.DjangoModelFactory):
    """Plain member without contact data; use `member_upsert` for phone/e-mail."""

    class Meta:
        model = Member

    external_id = factory.Sequence(lambda n: f"EXT{n:05d}")
    name = factory.Faker("name", locale="zh_CN")
