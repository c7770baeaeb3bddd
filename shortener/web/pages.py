"""Pages under /_/ that belong to links (password unlock, dub_id script)."""
from __future__ import annotations

routes: list = []
