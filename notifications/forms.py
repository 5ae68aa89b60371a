from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from .kinds import Category


class SettingsForm(forms.Form):
    """通知设置: the email address, email per category, and the email's language."""

    email = forms.EmailField(
        label=_("邮箱地址"),
        required=False,
        max_length=254,
        help_text=_("留空则不发送邮件，消息仍会出现在消息中心。"),
        error_messages={"invalid": _("请输入有效的邮箱地址。")},
    )
    email_requests = forms.BooleanField(label=Category.REQUESTS.label, required=False)
    email_decisions = forms.BooleanField(label=Category.DECISIONS.label, required=False)
    email_reminders = forms.BooleanField(label=Category.REMINDERS.label, required=False)
    language = forms.ChoiceField(label=_("邮件语言"), choices=settings.LANGUAGES)

    CATEGORY_HELP = {
        "email_requests": _("商家/机构提交的全部数据申请、续约申请和直播间数据申请（达人）。"),
        "email_decisions": _("授权、续约、解除授权，以及申请被同意、拒绝或过期。"),
        "email_reminders": _("授权即将到期、今天到期，申请等待处理超过 5 天。"),
    }

    def category_fields(self):
        return [(self[name], self.CATEGORY_HELP[name]) for name in self.CATEGORY_HELP]
