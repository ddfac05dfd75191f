"""Production settings for the load benchmark (``bench/load.py``).

Everything comes from ``clinic.settings.production`` unchanged: DEBUG off, SECRET_KEY
required from the environment, ALLOWED_HOSTS, HTTPS redirect behind the proxy header,
secure cookies, HSTS, staff two-step log-in, sessions read from Redis
with their rows in PostgreSQL. The benchmark's client
sends ``X-Forwarded-Proto: https`` as the clinic's proxy would, so the HTTPS redirect
stays on. Only the lines below differ, each for a reason a benchmark on the loopback has.

The driver sets what a deployment sets through the environment (SECRET_KEY,
DATABASE_URL, CACHE_URL, DB_CONN_MAX_AGE); see bench/README.md.
"""

from clinic.settings.production import *  # noqa: F403
from clinic.settings.production import VAR_DIR

# The app's URLs plus one bare view (small JSON, no database) that the benchmark measures
# through the same server and middleware, as the baseline the pages are compared with.
ROOT_URLCONF = "bench.urls"

# The manifest of collected static files lives in a folder of the benchmark's own, so
# that its collectstatic run does not rewrite the folder a developer's server uses.
STATIC_ROOT = VAR_DIR / "bench" / "staticfiles"
