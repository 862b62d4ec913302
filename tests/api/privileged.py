"""Keys with exactly the privileges a test names, saved straight into the catalog."""

from __future__ import annotations

from openpush.domain.organizations import ApiKey, Organization, Privilege, hash_api_key
from openpush.runtime import Runtime
from tests.api.conftest import ORG


def privilege(text: str) -> Privilege:
    """``"OWNER/DOMAIN/TYPE[/targetId]"`` -> a Privilege."""
    owner, domain, kind, *target = text.split("/")
    return Privilege(owner, domain, kind, target[0] if target else "*")


def key_with(runtime: Runtime, secret: str, *privileges: str, org: str = ORG) -> str:
    """Save an enabled key ``secret`` of ``org`` holding ``privileges``; return the secret."""
    catalog = runtime.store.catalog
    catalog.create_organization(Organization(org, org))
    catalog.save_api_key(
        ApiKey(
            id=f"k-{secret}",
            org_id=org,
            display_name="test key",
            privileges=tuple(privilege(p) for p in privileges),
        ),
        hash_api_key(secret),
    )
    return secret
