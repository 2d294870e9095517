"""`msp-tui psa set connectwise|autotask`: connect the PSA, after checking it with real calls.
Secrets are read from environment variables named on the command line, or hidden prompts."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from msp_tui.cli_base import CommandError, UsageError, notice_secrets, read_secret, say

if TYPE_CHECKING:
    from msp_tui.context import Context

EXAMPLES = """examples:
  msp-tui psa set connectwise --site na.myconnectwise.net --company acme \\
      --client-id 6f1c... --public-key-env CW_PUBLIC --private-key-env CW_PRIVATE
  msp-tui psa set autotask --username api@acme.example --integration-code ABC123 \\
      --secret-env AUTOTASK_SECRET
  msp-tui psa set halopsa --url https://acme.halopsa.com --client-id 1a2b... \\
      --client-secret-env HALO_SECRET
"""


def add_psa_command(add_command, common: argparse.ArgumentParser) -> None:
    from msp_tui.cli import ExamplesFormatter

    psa = add_command(
        "psa", "connect the PSA (ConnectWise Manage, Autotask or HaloPSA)",
        "Connect the PSA msp-tui bills against: ConnectWise Manage, Autotask or HaloPSA.",
    )  # fmt: skip
    psa.formatter_class = ExamplesFormatter
    psa.epilog = EXAMPLES
    actions = psa.add_subparsers(dest="psa_action", metavar="ACTION", required=True)
    put = actions.add_parser("set", help="set the PSA connection",
                             description="Save the PSA connection after checking it.")  # fmt: skip
    put.formatter_class = ExamplesFormatter
    put.epilog = EXAMPLES
    kinds = put.add_subparsers(dest="psa_vendor", metavar="PSA", required=True)
    _connectwise(kinds, common)
    _autotask(kinds, common)
    _halopsa(kinds, common)


def _connectwise(kinds, common: argparse.ArgumentParser) -> None:
    cw = kinds.add_parser(
        "connectwise", help="ConnectWise Manage: site, company id, API member keys, clientId",
        parents=[common],
        description="Save the ConnectWise Manage connection after checking it with a real"
        " call (/system/info). The keys are read from the environment variables named by"
        " --public-key-env and --private-key-env, or from hidden prompts; they are kept in the"
        " secret store.",
    )  # fmt: skip
    cw.add_argument("--site", required=True, metavar="URL",
                    help="https://HOST (http://127.0.0.1:PORT for a local simulator)")  # fmt: skip
    cw.add_argument("--company", required=True, metavar="ID", help="the ConnectWise company id")
    public = cw.add_mutually_exclusive_group()
    public.add_argument(
        "--public-key", metavar="K",
        help="the API member's public key (on the command line `ps` shows it: prefer"
        " --public-key-env, or leave both out to be asked)",
    )  # fmt: skip
    public.add_argument(
        "--public-key-env", metavar="VAR",
        help="environment variable holding the public key (else --public-key, else a prompt)",
    )  # fmt: skip
    cw.add_argument("--client-id", required=True, metavar="ID", help="your integration's clientId")
    cw.add_argument(
        "--private-key-env",
        metavar="VAR",
        help="environment variable holding the private key (else a prompt)",
    )
    cw.add_argument(
        "--codebase",
        help="the API codebase, e.g. v2025_1 (default: asked of the site's company info;"
        " v4_6_release with --no-check)",
    )
    cw.add_argument("--name", default="connectwise", help=argparse.SUPPRESS)
    cw.add_argument("--no-check", action="store_true", help="save without calling ConnectWise")
    cw.set_defaults(handler=cmd_psa_set_connectwise)


def _autotask(kinds, common: argparse.ArgumentParser) -> None:
    at = kinds.add_parser(
        "autotask", help="Autotask: API user, secret and integration code", parents=[common],
        description="Save the Autotask connection after checking it with real calls: the zone"
        " lookup for the API user (zoneInformation), then ThresholdInformation with all three"
        " headers. Use an API-only user (Admin > Resources > security level API User) with"
        " access to companies, contracts and tickets. The secret is read from the environment"
        " variable named by --secret-env, or a hidden prompt, and kept in the secret store.",
    )  # fmt: skip
    at.add_argument("--username", required=True, metavar="USER",
                    help="the API user's user name (an email address)")  # fmt: skip
    at.add_argument("--integration-code", required=True, metavar="CODE",
                    help="the API user's tracking identifier (ApiIntegrationCode)")  # fmt: skip
    at.add_argument(
        "--secret-env",
        metavar="VAR",
        help="environment variable holding the API user's secret (else a prompt)",
    )
    at.add_argument(
        "--zone-url", metavar="URL",
        help="the zone's REST base as zoneInformation returns it, e.g."
        " https://webservices5.autotask.net/atservicesrest/ (default: looked up for the user;"
        " give it for a proxy or a local simulator)",
    )  # fmt: skip
    at.add_argument("--name", default="autotask", help=argparse.SUPPRESS)
    at.add_argument("--no-check", action="store_true",
                    help="save without calling Autotask (needs --zone-url)")  # fmt: skip
    at.set_defaults(handler=cmd_psa_set_autotask)


def _halopsa(kinds, common: argparse.ArgumentParser) -> None:
    halo = kinds.add_parser(
        "halopsa", help="HaloPSA: URL, API application client id and secret", parents=[common],
        description="Save the HaloPSA connection after checking it with real calls: a token"
        " (OAuth2 client credentials, scope all) and one page of clients. Make an API"
        " application in HaloPSA (Configuration > Integrations > HaloPSA API, authentication"
        " method Client ID and Secret, login type Agent) with permission to read clients,"
        " items and recurring invoices, edit recurring invoices and create tickets. The secret"
        " is read from the environment variable named by --client-secret-env, or a hidden"
        " prompt, and kept in the secret store.",
    )  # fmt: skip
    halo.add_argument("--url", required=True, metavar="URL",
                      help="your HaloPSA, https://HOST (the API is URL/api)")  # fmt: skip
    halo.add_argument("--client-id", required=True, metavar="ID",
                      help="the API application's client id")  # fmt: skip
    halo.add_argument(
        "--client-secret-env",
        metavar="VAR",
        help="environment variable holding its client secret (else a prompt)",
    )
    halo.add_argument("--auth-url", metavar="URL",
                      help="the authorisation server, when not URL/auth")  # fmt: skip
    halo.add_argument("--tenant", metavar="T", help="your tenant, for instances Halo hosts")
    halo.add_argument("--name", default="halopsa", help=argparse.SUPPRESS)
    halo.add_argument("--no-check", action="store_true", help="save without calling HaloPSA")
    halo.set_defaults(handler=cmd_psa_set_halopsa)


def cmd_psa_set_connectwise(ctx: Context, args: argparse.Namespace) -> int:
    import asyncio

    from adapters.connectwise import DEFAULT_CODEBASE, ConnectWiseCredentials
    from adapters.errors import Secret
    from msp_tui.psa_setup import (
        ConnectWiseSettings,
        PsaSetupError,
        check_connectwise,
        save_connectwise,
    )

    settings = ConnectWiseSettings(args.site, args.company, args.client_id, args.codebase)
    try:
        site = settings.site_checked()
    except PsaSetupError as exc:
        raise UsageError(f"--site {args.site!r}: {exc}") from None
    if args.public_key:
        public_key = Secret(args.public_key)
    else:
        public_key = read_secret(args.public_key_env, "ConnectWise public key")
    private_key = read_secret(args.private_key_env, "ConnectWise private key")
    if args.no_check:
        codebase = args.codebase or DEFAULT_CODEBASE
        credentials = ConnectWiseCredentials(
            site, args.company, public_key, private_key, args.client_id, codebase
        )
    else:
        try:
            credentials = asyncio.run(check_connectwise(settings, public_key, private_key))
        except PsaSetupError as exc:
            raise CommandError(f"not saved: {exc}") from None
    notice_secrets(ctx)
    save_connectwise(ctx.secrets, credentials, checked=not args.no_check, name=args.name)
    checked = "" if args.no_check else f" (credentials checked, API {credentials.codebase})"
    say(f"ConnectWise connection '{args.name}' saved{checked}; next: msp-tui sync --all")
    return 0


def cmd_psa_set_autotask(ctx: Context, args: argparse.Namespace) -> int:
    import asyncio

    from adapters.autotask import AutotaskCredentials
    from msp_tui.psa_setup import AutotaskSettings, PsaSetupError, check_autotask, save_autotask

    settings = AutotaskSettings(args.username, args.integration_code, args.zone_url)
    if missing := settings.missing():
        raise UsageError(f"{' and '.join(missing)} cannot be empty")
    try:
        zone = settings.zone_checked()
    except PsaSetupError as exc:
        raise UsageError(f"--zone-url {args.zone_url!r}: {exc}") from None
    if args.no_check and zone is None:
        raise UsageError("--no-check needs --zone-url: without a call the zone is unknown")
    secret = read_secret(args.secret_env, "Autotask API user's secret")
    if args.no_check:
        username, code = settings.username.strip(), settings.integration_code.strip()
        credentials = AutotaskCredentials(username, code, secret, zone)
    else:
        try:
            credentials = asyncio.run(check_autotask(settings, secret))
        except PsaSetupError as exc:
            raise CommandError(f"not saved: {exc}") from None
    notice_secrets(ctx)
    save_autotask(ctx.secrets, credentials, checked=not args.no_check, name=args.name)
    checked = "" if args.no_check else f" (credentials checked, zone {credentials.zone})"
    say(f"Autotask connection '{args.name}' saved{checked}; next: msp-tui sync --all")
    return 0


def cmd_psa_set_halopsa(ctx: Context, args: argparse.Namespace) -> int:
    import asyncio

    from adapters.halopsa import HaloCredentials
    from msp_tui.psa_setup import HaloSettings, PsaSetupError, check_halopsa, save_halopsa

    settings = HaloSettings(args.url, args.client_id, args.auth_url, args.tenant)
    if missing := settings.missing():
        raise UsageError(f"{' and '.join(missing)} cannot be empty")
    try:
        url, auth_url = settings.checked()
    except PsaSetupError as exc:
        raise UsageError(str(exc)) from None
    secret = read_secret(args.client_secret_env, "HaloPSA client secret")
    if args.no_check:
        tenant = (args.tenant or "").strip() or None
        credentials = HaloCredentials(url, args.client_id.strip(), secret, auth_url, tenant)
    else:
        try:
            credentials = asyncio.run(check_halopsa(settings, secret))
        except PsaSetupError as exc:
            raise CommandError(f"not saved: {exc}") from None
    notice_secrets(ctx)
    save_halopsa(ctx.secrets, credentials, checked=not args.no_check, name=args.name)
    checked = "" if args.no_check else " (credentials checked)"
    say(f"HaloPSA connection '{args.name}' saved{checked}; next: msp-tui sync --all")
    return 0
