# Claude Code (headless here; the same settings serve the interactive `claude`)
export ANTHROPIC_BASE_URL="${SWITCHYARD_BASE_URL%/v1}"  # the gateway's root: it adds /v1/messages
export ANTHROPIC_AUTH_TOKEN="$SWITCHYARD_API_KEY"       # sent as Authorization: Bearer
export ANTHROPIC_MODEL=claude-sonnet-4-5                # public model ids the gateway serves
export ANTHROPIC_SMALL_FAST_MODEL=claude-haiku-4-5      # for its quick background calls
export ANTHROPIC_DEFAULT_HAIKU_MODEL=claude-haiku-4-5   # (the newer name of the line above)
export CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1 DISABLE_TELEMETRY=1 DISABLE_ERROR_REPORTING=1
export DISABLE_AUTOUPDATER=1
claude -p "Say hello to the gateway"
