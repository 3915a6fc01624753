#!/usr/bin/env bash
# Installs the Debian packages the test suite uses (Mosquitto, PostgreSQL, Redis, openssl,
# Chromium) when missing. Tests start private instances of the services from these binaries.
# Without root, it says what to install.
set -u
need=()
command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || need+=(mosquitto)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1 || need+=(postgresql)
command -v redis-server >/dev/null 2>&1 || [ -x /usr/bin/redis-server ] || need+=(redis-server)  # rate limits shared through Redis
command -v openssl >/dev/null 2>&1 || need+=(openssl)  # the gateway's TLS test makes its own CA
command -v chromium >/dev/null 2>&1 || need+=(chromium)  # renders /docs and /redoc offline
fc-list :lang=zh-cn 2>/dev/null | grep -q . || need+=(fonts-wqy-microhei)  # the item page's Chinese in screenshots
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing ${need[*]} from Debian's packages"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  # Debian starts services on install; the tests use private instances, so leave the system ones alone.
else
  echo "note: ${need[*]} not installed and not root; tests needing them will skip (apt-get install ${need[*]})"
fi
exit 0
