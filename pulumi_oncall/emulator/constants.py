"""Names shared by the emulator and the code that drives it."""

from __future__ import annotations

# The one line printed on stdout once the server accepts connections.
LISTENING = "oncall-emulator listening on"

TOKENS_ENV = "ONCALL_EMULATOR_TOKENS"
VIEWER_TOKENS_ENV = "ONCALL_EMULATOR_VIEWER_TOKENS"
SERVICE_ACCOUNT_TOKENS_ENV = "ONCALL_EMULATOR_SERVICE_ACCOUNT_TOKENS"
SERVICE_ACCOUNT_VIEWER_TOKENS_ENV = "ONCALL_EMULATOR_SERVICE_ACCOUNT_VIEWER_TOKENS"
ADMIN_SECRET_ENV = "ONCALL_EMULATOR_ADMIN_SECRET"

ADMIN_PREFIX = "/emulator/"
ADMIN_HEADER = "X-Emulator-Admin"

# Grafana service-account tokens start with this; they need the stack's URL beside them.
SERVICE_ACCOUNT_PREFIX = "glsa_"
GRAFANA_URL_HEADER = "X-Grafana-URL"
