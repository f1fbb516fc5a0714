package config

// Scaffold is the commented example printed by `knot scaffold`. Every line
// parses back without warnings (a test holds it to that).
const Scaffold = `# knot.toml — every key can also come from the environment:
# KNOT_ + the key in upper case with dots as underscores (KNOT_SERVER_LISTEN).

[server]
# Address to listen on.
listen = ":3000"
# Public URL of this server: certificate names and the cookie's Secure flag.
url = "https://localhost:3000"
# Key that encrypts secrets at rest (generate with ` + "`knot genkey`" + `).
# Empty: one is generated into the data directory on first start.
encrypt = ""
# Zone this server is in (templates can be limited to zones). Default: host name.
# zone = "eu-west"
# Rate-limit sign-in attempts per IP address, per email from one address, and
# per email from all addresses together.
auth_ip_rate_limiting = true
# Until the first admin exists, /initial-system-setup asks for a one-time setup
# code printed in the log at start-up (` + "`knot setup-code`" + ` prints it again).
# true lets a browser on this machine (a request from 127.0.0.1 or ::1) skip the
# code. Leave it false behind a reverse proxy on the same machine: then every
# request comes from 127.0.0.1.
setup_from_loopback = false
# Sign out a browser session after this long without a request (at least 1m).
session_idle_timeout = "2h"
# How often expired API tokens (unused for 14 days) are deleted.
token_sweep_interval = "1h"
# The most browser sessions one user may have at once; signing in once
# more signs out that user's oldest session.
max_sessions_per_user = 20
# The most API tokens one user may hold; creating one more is refused with
# a message saying so.
max_tokens_per_user = 1000

[server.tls]
use_tls = true
# Empty: a self-signed certificate is generated once into the data directory.
cert_file = ""
key_file = ""

[server.sqlite]
path = "./data/knot.db"

[server.postgres]
# A cluster: several knot servers sharing one PostgreSQL database (every
# server then needs the same server.encrypt). Off: the SQLite file above.
enabled = false
dsn = ""  # e.g. "postgres://knot:PASSWORD@db.internal:5432/knot?sslmode=require"

[server.metrics]
# Serve Prometheus metrics at http://LISTEN/metrics; empty serves none.
# Keep it on a private address: the metrics are not authenticated.
listen = ""

[server.cluster]
# Accept leaf nodes connecting to this server.
allow_leaf_nodes = true
# Who may sign in through a leaf: "owner" (the token's owner) or "any" active user.
leaf_login = "owner"

[server.origin]
# Set both to run this server as a leaf node of the origin.
server = ""
token = ""
# Certificate to trust for a self-signed origin.
ca_file = ""
# Do not verify the origin's certificate (dangerous).
skip_verify = false
heartbeat_interval = "30s"

[server.ui]
# true turns API token management off for everyone: no menu item, and the
# token pages and /api/tokens answer 404. Tokens made before keep working
# until they go unused for 14 days.
hide_api_tokens = false

[log]
# debug, info, warn or error
level = "info"
`
