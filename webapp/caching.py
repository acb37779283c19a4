"""What each response lets a cache do with it, said on every response in `Cache-Control`.

Without the header a browser, or a shared cache such as nginx's, may pick a
lifetime of its own ("heuristic freshness") and replay an answer that was only
ever true once. So every response states a policy:

- made for this request (a JSON answer, a page about you, an error): `no-store`,
  nobody keeps it. The site's middleware gives it to every response that says nothing.
- a static file: `no-cache`, keep it but ask each time (ETag → 304), set in settings.
- a fingerprinted static file (content hash in its name): kept a year, never asked again.
- the shared dynamic page: every browser asks each time, a shared cache may keep it 1 s.
"""

from __future__ import annotations

MADE_FOR_THIS_REQUEST = "no-store"
FINGERPRINTED = "public, max-age=31536000, immutable"
SHARED_SECONDS = 1
SHARED_PAGE = f"max-age=0, s-maxage={SHARED_SECONDS}"
# A moved icon: browsers keep permanent redirects anyway; a day bounds how long.
ICON_REDIRECT = "max-age=86400"
