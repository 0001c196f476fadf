"""The whole sign-in in headless Chromium: email-first page -> IdP -> callback -> LiteLLM's UI,
which shows the account's keys, teams and models and nothing of the other account."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from identity_support import PASSWORD, IdentityWorld, SsoAccount, account_admin_key, as_key

from extensions.testing.ui_walk import CHROMIUM, CHROMIUM_ARGS

REPO_ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO_ROOT / "test-artifacts"


def _seed(world: IdentityWorld, account: SsoAccount, tag: str) -> tuple[str, str, str]:
    """A team, a key and a model in ``account`` with recognisable names."""
    team_alias, key_alias, model_name = f"{tag}-team", f"{tag}-key", f"{tag}-model"
    with as_key(world, account_admin_key(world, account)) as admin:
        team = admin.post("/team/new", json={"team_alias": team_alias})
        assert team.status_code == 200, team.text
        key = admin.post("/key/generate", json={"key_alias": key_alias, "team_id": team.json()["team_id"]})
        assert key.status_code == 200, key.text
        params = {"model": "openai/gpt-4o", "api_base": "http://127.0.0.1:9/v1", "api_key": f"sk-{tag}"}
        model = admin.post("/model/new", json={"model_name": model_name, "litellm_params": params})
        assert model.status_code == 200, model.text
    return team_alias, key_alias, model_name


@pytest.mark.browser
def test_sso_login_in_chromium_lands_in_the_account_ui(identity: IdentityWorld) -> None:
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is missing: `apt-get install chromium` (make test installs it as root)")
    tag = uuid.uuid4().hex[:6]
    team_a, key_a, model_a = _seed(identity, identity.a, f"ui-a-{tag}")
    team_b, key_b, model_b = _seed(identity, identity.b, f"ui-b-{tag}")
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_context(viewport={"width": 1400, "height": 900}).new_page()
            page.goto(f"{identity.base_url}/atrium/login")
            page.fill("#email", identity.a.email("ada"))
            page.click("#continue")
            # The account's IdP: its own sign-in page, the email prefilled from login_hint.
            page.wait_for_selector("#password")
            assert page.url.startswith(identity.idp_a.issuer)
            page.fill("#password", PASSWORD)
            page.click("#submit")
            page.wait_for_url(f"{identity.base_url}/ui/**", timeout=60_000)
            assert any(c["name"] == "token" for c in page.context.cookies())
            page.goto(f"{identity.base_url}/ui/?page=api-keys")
            page.get_by_text(key_a).first.wait_for(timeout=60_000)
            keys_text = page.inner_text("body")
            page.screenshot(path=str(ARTIFACTS / "identity-sso-keys.png"), full_page=True)
            page.goto(f"{identity.base_url}/ui/?page=teams")
            page.get_by_text(team_a).first.wait_for(timeout=60_000)
            teams_text = page.inner_text("body")
            page.screenshot(path=str(ARTIFACTS / "identity-sso-teams.png"), full_page=True)
            page.goto(f"{identity.base_url}/ui/?page=models")
            page.get_by_text(model_a).first.wait_for(timeout=60_000)
            models_text = page.inner_text("body")
            page.screenshot(path=str(ARTIFACTS / "identity-sso-models.png"), full_page=True)
        finally:
            browser.close()
    assert key_a in keys_text and key_b not in keys_text
    assert team_a in teams_text and team_b not in teams_text
    assert model_a in models_text and model_b not in models_text
