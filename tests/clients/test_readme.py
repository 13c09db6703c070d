"""The README's "Clients" section shows each recipe exactly as tests/clients runs it."""

import re

import pytest

from config.env import BASE_DIR
from tests.clients.runner import RECIPES

RECIPE_FILES = sorted(
    path
    for path in RECIPES.iterdir()
    if path.suffix in (".py", ".mjs", ".sh") and path.stem != "__init__"
)


def clients_section() -> str:
    readme = (BASE_DIR / "README.md").read_text(encoding="utf-8")
    found = re.search(r"^## Clients\n(.*?)(?=^## )", readme, re.MULTILINE | re.DOTALL)
    if found is None:
        pytest.skip("the README has no '## Clients' section yet")
    return found.group(1)


@pytest.mark.parametrize("recipe", RECIPE_FILES, ids=lambda path: path.name)
def test_the_readme_shows_the_tested_recipe(recipe):
    section = clients_section()

    assert recipe.read_text(encoding="utf-8").strip() in section, (
        f"the README's Clients section differs from tests/clients/recipes/{recipe.name}"
    )
