# A reply, with OpenRouter's routing controls in the body
curl -s -w '\n' "$SWITCHYARD_BASE_URL/chat/completions" \
  -H "Authorization: Bearer $SWITCHYARD_API_KEY" -H "Content-Type: application/json" \
  -d '{"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hello"}],
       "provider": {"sort": "price", "allow_fallbacks": true}}'

# A stream; the last chunk before [DONE] carries the usage
curl -sN "$SWITCHYARD_BASE_URL/chat/completions" \
  -H "Authorization: Bearer $SWITCHYARD_API_KEY" -H "Content-Type: application/json" \
  -d '{"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hello"}],
       "stream": true, "stream_options": {"include_usage": true}}'

# The models this key may use, with prices (USD per 1M tokens)
curl -s -w '\n' "$SWITCHYARD_BASE_URL/models" -H "Authorization: Bearer $SWITCHYARD_API_KEY"

# This key's limits, its spend and its account's balance
curl -s -w '\n' "$SWITCHYARD_BASE_URL/key" -H "Authorization: Bearer $SWITCHYARD_API_KEY"

# The usage record of one request, by the x-request-id it was answered with
request_id=$(curl -s -o /dev/null -D - "$SWITCHYARD_BASE_URL/chat/completions" \
  -H "Authorization: Bearer $SWITCHYARD_API_KEY" -H "Content-Type: application/json" \
  -d '{"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hello"}]}' \
  | awk 'tolower($1) == "x-request-id:" {print $2}' | tr -d '\r')
curl -s -w '\n' "$SWITCHYARD_BASE_URL/generation?id=$request_id" \
  -H "Authorization: Bearer $SWITCHYARD_API_KEY"
