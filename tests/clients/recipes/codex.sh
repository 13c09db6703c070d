# Codex CLI (`codex exec` here; the same settings serve the interactive `codex`). Each -c is a
# config.toml line for this run only. web_search and multi_agent off: Codex then offers function
# tools only (no built-in web_search, no tool namespace); the last two lines stop its calls to
# OpenAI and GitHub (analytics, update check, plugin sync), which would go out past the gateway.
export SWITCHYARD_API_KEY  # Codex reads the key from the variable env_key names
codex exec --skip-git-repo-check \
  -c model=gpt-4o-mini \
  -c model_provider=switchyard \
  -c model_providers.switchyard.name=Switchyard \
  -c "model_providers.switchyard.base_url=\"$SWITCHYARD_BASE_URL\"" \
  -c model_providers.switchyard.wire_api=responses \
  -c model_providers.switchyard.env_key=SWITCHYARD_API_KEY \
  -c web_search=disabled -c features.multi_agent=false \
  -c analytics.enabled=false -c check_for_update_on_startup=false \
  -c features.plugins=false -c features.remote_plugin=false -c features.apps=false \
  "Say hello to the gateway"
