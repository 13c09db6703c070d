"""Client-chosen strings, bounded wherever the gateway repeats them: logs and error messages."""

CLIP_LENGTH = 200
CUT_MARK = "…[cut]"


def clip(text: str, limit: int = CLIP_LENGTH) -> str:
    """`text`, or its first `limit` characters followed by CUT_MARK."""
    return text if len(text) <= limit else text[:limit] + CUT_MARK
