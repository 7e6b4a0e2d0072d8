"""Make a new LTI signing key; the previous ones stay published for a grace period."""

from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError

from lti import selectors, services


class Command(BaseCommand):
    help = (
        "Create a new key pair for signing LTI messages. Keys it replaces stay in the JWKS "
        "for --grace-days, so platforms that cached the JWKS keep verifying; keys past "
        "their grace are deleted."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--grace-days",
            type=int,
            default=7,
            help="Days the replaced keys stay published (default 7).",
        )

    def handle(self, *args, grace_days: int, **options):
        if grace_days < 0:
            raise CommandError("--grace-days must be 0 or more.")
        key = services.tool_key_rotate(grace=timedelta(days=grace_days))
        published = selectors.tool_keys_published().count()
        self.stdout.write(
            self.style.SUCCESS(f"New signing key {key.kid}; {published} key(s) published.")
        )
