from django.core.checks import Error, Tags, register
from django.core.exceptions import ImproperlyConfigured

from .crypto import codec


@register(Tags.security, deploy=True)
def voucher_keys_configured(app_configs, **kwargs):
    """`check --deploy` refuses a production configuration without a usable key ring."""
    try:
        codec()
    except ImproperlyConfigured as error:
        return [Error(str(error), id="quanyi.E001")]
    return []
